// Previous/next paging for lists fetched a page at a time. Without a total (skipTotal), "next"
// is offered while the last page came back full.
export function Pager(props: {
  page: number;
  perPage: number;
  itemsOnPage: number;
  totalItems?: number;
  onPage: (page: number) => void;
}) {
  const { page, perPage, itemsOnPage, totalItems } = props;
  const lastPage = totalItems !== undefined && totalItems >= 0 ? Math.max(1, Math.ceil(totalItems / perPage)) : undefined;
  const hasNext = lastPage !== undefined ? page < lastPage : itemsOnPage >= perPage;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={page <= 1} onClick={() => props.onPage(page - 1)}>
        Previous
      </button>
      <span aria-live="polite">
        Page {page}
        {lastPage !== undefined && ` of ${lastPage}`}
        {totalItems !== undefined && totalItems >= 0 && ` · ${totalItems} items`}
      </span>
      <button type="button" disabled={!hasNext} onClick={() => props.onPage(page + 1)}>
        Next
      </button>
    </nav>
  );
}
