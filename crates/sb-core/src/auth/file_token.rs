//! File tokens (spec §8.3): short-lived `type: "file"` JWTs that let the holder download the
//! protected files its record may view, passed as `?token=` (a URL cannot carry a header).

use sb_auth::token::TokenType;
use sb_query::RequestInfo;

use crate::records::Record;
use crate::{App, CoreError, CoreResult};

impl App {
    /// `POST /api/files/token`: a file token for the authenticated record, signed with its
    /// `tokenKey` + the collection's `fileToken.secret`, valid for `fileToken.duration` seconds.
    pub fn file_token(&self, req: &RequestInfo) -> CoreResult<String> {
        let auth = req.auth.as_ref().ok_or_else(|| {
            CoreError::Unauthorized("The request requires valid record authorization token.".into())
        })?;
        let c = auth.collection.clone();
        let duration = c
            .auth
            .as_ref()
            .map(|a| a.file_token.duration)
            .ok_or_else(|| CoreError::internal("auth options missing"))?;
        let record = Record {
            collection: c.clone(),
            data: auth.record.clone(),
            expand: None,
            managed: false,
        };
        self.issue_token(&c, &record, TokenType::File, duration, None)
    }
}

impl App {
    /// Resolves a file token (`?token=`) to its principal; any failure means "guest".
    pub(crate) async fn authenticate_file_token(&self, token: &str) -> Option<sb_query::AuthInfo> {
        let claims = sb_auth::token::peek(token)?;
        if claims.kind != TokenType::File || claims.id.is_empty() {
            return None;
        }
        let catalog = self.catalog();
        let c = catalog.get(&claims.collection_id)?.clone();
        if c.id != claims.collection_id || !c.is_auth() {
            return None;
        }
        let record = crate::records::view::load_record(self.store.as_ref(), &c, &claims.id, None)
            .await
            .ok()??;
        let key = super::signing_key(&c, &record, TokenType::File)?;
        sb_auth::token::verify(token, &key, TokenType::File, chrono::Utc::now().timestamp())
            .ok()?;
        Some(sb_query::AuthInfo { collection: c, record: record.data })
    }
}
