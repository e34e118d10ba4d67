-- Scalebase helper functions: SQLite value semantics on PostgreSQL.
-- Installed by every PostgreSQL backend at start-up (idempotent). See sb-sql/src/postgres.rs.
--
-- Canonical values: SQLite's dynamic values are represented as jsonb scalars: a number, a
-- string, or SQL NULL. Booleans are 0/1 and JSON objects/arrays are their JSON text, as
-- SQLite's json_extract returns them.

-- SQLite's test for numeric-looking text (the whole string is a number, surrounding
-- whitespace allowed).
CREATE OR REPLACE FUNCTION sb_is_num(t text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT t ~ '^[ \t\n\r\f\v]*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?[ \t\n\r\f\v]*$'
$$;

-- Text to float8 like SQLite: overflow gives +/-Infinity, underflow 0.
CREATE OR REPLACE FUNCTION sb_to_float(t text) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF length(t) <= 20 AND t !~ '[eE]' THEN
    RETURN t::float8;
  END IF;
  BEGIN
    RETURN t::float8;
  EXCEPTION WHEN others THEN
    IF t ~ '[eE][ ]*-' THEN
      RETURN 0;
    ELSIF btrim(t) LIKE '-%' THEN
      RETURN '-Infinity'::float8;
    ELSE
      RETURN 'Infinity'::float8;
    END IF;
  END;
END
$$;

-- printf("%.<digits>g") as SQLite implements it; alt = SQLite's "!" flag (keep ".0").
CREATE OR REPLACE FUNCTION sb_fmt_g(x float8, digits int, alt boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  s text;
  mant text;
  e int;
  res text;
  frac text;
BEGIN
  IF x = 0 THEN
    RETURN CASE WHEN alt THEN '0.0' ELSE '0' END;
  ELSIF x = 'Infinity'::float8 THEN
    RETURN 'Inf';
  ELSIF x = '-Infinity'::float8 THEN
    RETURN '-Inf';
  ELSIF x = 'NaN'::float8 THEN
    RETURN 'NaN';
  END IF;
  s := btrim(to_char(abs(x), '9.' || repeat('9', digits - 1) || 'EEEE'));
  e := split_part(s, 'e', 2)::int;
  mant := rtrim(replace(split_part(s, 'e', 1), '.', ''), '0');
  IF mant = '' THEN
    mant := '0';
  END IF;
  IF e < -4 OR e > digits - 1 THEN
    res := substr(mant, 1, 1);
    IF length(mant) > 1 THEN
      res := res || '.' || substr(mant, 2);
    ELSIF alt THEN
      res := res || '.0';
    END IF;
    res := res || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END
               || CASE WHEN abs(e) < 10 THEN '0' ELSE '' END || abs(e)::text;
  ELSIF e >= 0 THEN
    res := rpad(substr(mant, 1, e + 1), e + 1, '0');
    frac := substr(mant, e + 2);
    IF frac <> '' THEN
      res := res || '.' || frac;
    ELSIF alt THEN
      res := res || '.0';
    END IF;
  ELSE
    res := '0.' || repeat('0', -e - 1) || mant;
  END IF;
  RETURN CASE WHEN x < 0 THEN '-' || res ELSE res END;
END
$$;

-- Text of a REAL value (SQLite: printf "%!.15g").
CREATE OR REPLACE FUNCTION sb_real_text(x float8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT sb_fmt_g(x, 15, true) $$;

-- Text of a value read from a NUMERIC column: SQLite stores integral values as INTEGER.
CREATE OR REPLACE FUNCTION sb_num_text(x float8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN x = trunc(x) AND x > -9.223372036854775808e18 AND x < 9.223372036854775808e18
      THEN x::int8::text
    ELSE sb_real_text(x)
  END
$$;

-- Text of a JSON number literal as json_extract returns it (INTEGER if it is an integer
-- literal that fits 64 bits, REAL otherwise).
CREATE OR REPLACE FUNCTION sb_json_num_text(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t ~ '^-?[0-9]+$' AND t::numeric BETWEEN -9223372036854775808 AND 9223372036854775807
      THEN t::int8::text
    ELSE sb_real_text(sb_to_float(t))
  END
$$;

-- Canonical value of a json_extract result.
CREATE OR REPLACE FUNCTION sb_vj(j json) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE json_typeof(j)
    WHEN 'string' THEN to_jsonb(j #>> '{}')
    WHEN 'number' THEN to_jsonb(sb_to_float(btrim(j::text)))
    WHEN 'boolean' THEN to_jsonb(CASE WHEN btrim(j::text) = 'true' THEN 1 ELSE 0 END)
    WHEN 'object' THEN to_jsonb(btrim(j::text))
    WHEN 'array' THEN to_jsonb(btrim(j::text))
  END
$$;

-- Text of a json_extract result.
CREATE OR REPLACE FUNCTION sb_jt(j json) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE json_typeof(j)
    WHEN 'string' THEN j #>> '{}'
    WHEN 'number' THEN sb_json_num_text(btrim(j::text))
    WHEN 'boolean' THEN CASE WHEN btrim(j::text) = 'true' THEN '1' ELSE '0' END
    WHEN 'object' THEN btrim(j::text)
    WHEN 'array' THEN btrim(j::text)
  END
$$;

-- Canonical value of text under NUMERIC affinity (numeric-looking text becomes a number).
CREATE OR REPLACE FUNCTION sb_vn(t text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN sb_is_num(t) THEN to_jsonb(sb_to_float(t)) ELSE to_jsonb(t) END
$$;

-- NUMERIC affinity applied to a canonical value.
CREATE OR REPLACE FUNCTION sb_numaff(v jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN sb_vn(v #>> '{}') ELSE v END
$$;

-- Canonical value and text of a value whose type only PostgreSQL knows (view columns,
-- untyped positions), overloaded on the stored type; json is a stored JSON column.
CREATE OR REPLACE FUNCTION sb_val(x text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_jsonb(x) $$;
CREATE OR REPLACE FUNCTION sb_val(x float8) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_jsonb(x) $$;
CREATE OR REPLACE FUNCTION sb_val(x int8) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_jsonb(x::float8) $$;
CREATE OR REPLACE FUNCTION sb_val(x boolean) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT to_jsonb(x::int) $$;
CREATE OR REPLACE FUNCTION sb_val(x json) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT sb_vn(x::text) $$;
CREATE OR REPLACE FUNCTION sb_text(x text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x $$;
CREATE OR REPLACE FUNCTION sb_text(x float8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT sb_num_text(x) $$;
CREATE OR REPLACE FUNCTION sb_text(x int8) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x::text $$;
CREATE OR REPLACE FUNCTION sb_text(x boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x::int::text $$;
CREATE OR REPLACE FUNCTION sb_text(x json) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT x::text $$;

-- SQLite's comparison of two canonical values: NULL if either is NULL, else -1/0/1 with
-- numbers before text, numbers numerically, text bytewise.
CREATE OR REPLACE FUNCTION sb_cmp(a jsonb, b jsonb) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN a IS NULL OR b IS NULL THEN NULL
    WHEN jsonb_typeof(a) = 'number' AND jsonb_typeof(b) = 'number' THEN
      CASE WHEN a::float8 < b::float8 THEN -1 WHEN a::float8 > b::float8 THEN 1 ELSE 0 END
    WHEN jsonb_typeof(a) = 'number' THEN -1
    WHEN jsonb_typeof(b) = 'number' THEN 1
    WHEN (a #>> '{}') = (b #>> '{}') THEN 0
    WHEN (a #>> '{}') COLLATE "C" < (b #>> '{}') THEN -1
    ELSE 1
  END
$$;

-- SQLite's `a IS b` on canonical values.
CREATE OR REPLACE FUNCTION sb_is(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN a IS NULL THEN b IS NULL WHEN b IS NULL THEN false ELSE sb_cmp(a, b) = 0 END
$$;

-- A bytea key that sorts canonical values in SQLite's order (NULL, numbers, text bytewise).
CREATE OR REPLACE FUNCTION sb_sort_key(v jsonb) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  b bytea;
BEGIN
  IF v IS NULL THEN
    RETURN '\x00'::bytea;
  ELSIF jsonb_typeof(v) = 'number' THEN
    b := float8send(v::float8);
    IF get_byte(b, 0) >= 128 THEN
      FOR i IN 0..7 LOOP
        b := set_byte(b, i, 255 - get_byte(b, i));
      END LOOP;
    ELSE
      b := set_byte(b, 0, get_byte(b, 0) + 128);
    END IF;
    RETURN '\x01'::bytea || b;
  ELSE
    RETURN '\x02'::bytea || convert_to(v #>> '{}', 'UTF8');
  END IF;
END
$$;

-- ASCII-only lower-casing (SQLite's LOWER and NOCASE).
CREATE OR REPLACE FUNCTION sb_lower(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
$$;

-- SQLite's `s LIKE p ESCAPE '\'`: ASCII case-insensitive; a pattern ending in an unpaired
-- escape character never matches.
CREATE OR REPLACE FUNCTION sb_like(s text, p text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN s IS NULL OR p IS NULL THEN NULL
    WHEN length(substring(p from '\\*$')) % 2 = 1 THEN false
    ELSE sb_lower(s) LIKE sb_lower(p) ESCAPE '\'
  END
$$;

-- SQLite's numeric conversion for math functions: numbers and numeric-looking text.
CREATE OR REPLACE FUNCTION sb_num(v jsonb) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE jsonb_typeof(v)
    WHEN 'number' THEN v::float8
    WHEN 'string' THEN CASE WHEN sb_is_num(v #>> '{}') THEN sb_to_float(v #>> '{}') END
  END
$$;

CREATE OR REPLACE FUNCTION sb_clamp1(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN x > 1 THEN 1 WHEN x < -1 THEN -1 ELSE x END
$$;

-- Parses text as JSON, or NULL when it is not valid JSON.
CREATE OR REPLACE FUNCTION sb_try_json(t text) RETURNS json
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF t !~ '^[ \t\n\r]*[\[{"0-9tfn-]' THEN
    RETURN NULL;
  END IF;
  RETURN t::json;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$$;

-- json_array_length(CASE WHEN json_valid(t) THEN t ELSE json_array(t) END), NULL for NULL.
CREATE OR REPLACE FUNCTION sb_json_len(t text) RETURNS int
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  j json;
BEGIN
  IF t IS NULL THEN
    RETURN NULL;
  END IF;
  j := sb_try_json(t);
  IF j IS NULL THEN
    RETURN 1;
  END IF;
  RETURN CASE WHEN json_typeof(j) = 'array' THEN json_array_length(j) ELSE 0 END;
END
$$;

-- The array iterated by a JsonEach source: a JSON array as is, NULL as no elements, anything
-- else as a one-element array holding the text.
CREATE OR REPLACE FUNCTION sb_each(t text) RETURNS json
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  j json;
BEGIN
  IF t IS NULL THEN
    RETURN '[]'::json;
  END IF;
  IF t ~ '^[ \t\n\r]*\[' THEN
    j := sb_try_json(t);
    IF json_typeof(j) = 'array' THEN
      RETURN j;
    END IF;
  END IF;
  RETURN json_build_array(t);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Dates: a port of SQLite's date.c (julian day in milliseconds, Meeus' algorithms), so that
-- strftime() gives identical results. Not supported (yield NULL): the '+YYYY-MM-DD' modifier
-- form. 'localtime' and 'utc' are no-ops (the server's time zone is taken to be UTC).

-- computeJD: julian day (ms) of a date and optional time; NULL if the year is out of range.
CREATE OR REPLACE FUNCTION sb_dt_jd(y int, mo int, d int, h int, mi int, s float8,
                                    with_time boolean, tz int) RETURNS int8
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  a int;
  b int;
  x1 int;
  x2 int;
  r int8;
BEGIN
  IF y < -4713 OR y > 9999 THEN
    RETURN NULL;
  END IF;
  IF mo <= 2 THEN
    y := y - 1;
    mo := mo + 12;
  END IF;
  a := (y + 4800) / 100;
  b := 38 - a + (a / 4);
  x1 := 36525 * (y + 4716) / 100;
  x2 := 306001 * (mo + 1) / 10000;
  r := trunc((x1 + x2 + d + b - 1524.5) * 86400000)::int8;
  IF with_time THEN
    r := r + h * 3600000 + mi * 60000 + trunc(s * 1000 + 0.5)::int8 - tz * 60000;
  END IF;
  RETURN r;
END
$$;

-- computeYMD: {year, month, day} of a julian day (ms).
CREATE OR REPLACE FUNCTION sb_dt_ymd(jd int8) RETURNS int[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  z int;
  alpha int;
  a int;
  b int;
  c int;
  d int;
  e int;
  x1 int;
  mo int;
BEGIN
  z := ((jd + 43200000) / 86400000)::int;
  alpha := trunc((z + 32044.75::float8) / 36524.25::float8)::int - 52;
  a := z + 1 + alpha - ((alpha + 100) / 4) + 25;
  b := a + 1524;
  c := trunc((b - 122.1::float8) / 365.25::float8)::int;
  d := (36525 * (c & 32767)) / 100;
  e := trunc((b - d) / 30.6001::float8)::int;
  x1 := trunc(30.6001::float8 * e)::int;
  mo := CASE WHEN e < 14 THEN e - 1 ELSE e - 13 END;
  RETURN ARRAY[CASE WHEN mo > 2 THEN c - 4716 ELSE c - 4715 END, mo, b - d - x1];
END
$$;

-- computeFloor: days of month overflow (e.g. Feb 31 -> 3 in a common year).
CREATE OR REPLACE FUNCTION sb_dt_floor(y int, mo int, d int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN d <= 28 THEN 0
    WHEN ((1 << mo) & 5546) <> 0 THEN 0
    WHEN mo <> 2 THEN CASE WHEN d = 31 THEN 1 ELSE 0 END
    WHEN y % 4 <> 0 OR (y % 100 = 0 AND y % 400 <> 0) THEN d - 28
    ELSE d - 29
  END
$$;

-- parseHhMmSs (with the time zone suffix): {h, m, s, tz minutes, 1 if 'Z'}, NULL if malformed.
CREATE OR REPLACE FUNCTION sb_dt_hms(t text) RETURNS float8[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  m text[];
  z text[];
  h int;
  mi int;
  s float8 := 0;
  tz int := 0;
  utc int := 0;
BEGIN
  m := regexp_match(t, '^([0-9]{2}):([0-9]{2})(:([0-9]{2})(\.([0-9]+))?)?(.*)$');
  IF m IS NULL THEN
    RETURN NULL;
  END IF;
  h := m[1]::int;
  mi := m[2]::int;
  IF h > 24 OR mi > 59 THEN
    RETURN NULL;
  END IF;
  IF m[4] IS NOT NULL THEN
    s := m[4]::int;
    IF s > 59 THEN
      RETURN NULL;
    END IF;
    IF m[6] IS NOT NULL THEN
      s := s + least(('0.' || m[6])::float8, 0.999);
    END IF;
  END IF;
  z := regexp_match(m[7], '^[[:space:]]*(([-+])([0-9]{2}):([0-9]{2})|([Zz]))?[[:space:]]*$');
  IF z IS NULL THEN
    RETURN NULL;
  END IF;
  IF z[2] IS NOT NULL THEN
    IF z[3]::int > 14 OR z[4]::int > 59 THEN
      RETURN NULL;
    END IF;
    tz := (z[3]::int * 60 + z[4]::int) * CASE WHEN z[2] = '-' THEN -1 ELSE 1 END;
  END IF;
  IF z[5] IS NOT NULL THEN
    utc := 1;
  END IF;
  RETURN ARRAY[h, mi, s, tz, utc];
END
$$;

-- Formats a computed date/time (the strftime conversions of SQLite 3.50).
CREATE OR REPLACE FUNCTION sb_dt_format(fmt text, jd int8, y int, mo int, d int, h int, mi int,
                                        s float8, subsec boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  res text := '';
  i int := 1;
  n int := length(fmt);
  c text;
  cf text;
  dj int;      -- days after Jan 01
  dmon int;    -- days after Monday
  dsun int;    -- days after Sunday
  jd2 int8;
  ymd2 int[];
  h12 int;
BEGIN
  dj := ((jd - sb_dt_jd(y, 1, 1, h, mi, s, true, 0) + 43200000) / 86400000)::int;
  dmon := (((jd + 43200000) / 86400000) % 7)::int;
  dsun := (((jd + 129600000) / 86400000) % 7)::int;
  WHILE i <= n LOOP
    c := substr(fmt, i, 1);
    IF c <> '%' THEN
      res := res || c;
      i := i + 1;
      CONTINUE;
    END IF;
    cf := substr(fmt, i + 1, 1);
    i := i + 2;
    h12 := CASE WHEN h > 12 THEN h - 12 WHEN h = 0 THEN 12 ELSE h END;
    IF cf IN ('G', 'g', 'V') THEN
      jd2 := jd + (3 - dmon) * 86400000::int8;
      ymd2 := sb_dt_ymd(jd2);
    END IF;
    res := res || CASE cf
      WHEN 'd' THEN lpad(d::text, 2, '0')
      WHEN 'e' THEN lpad(d::text, 2, ' ')
      WHEN 'f' THEN to_char(least(s, 59.999), 'FM00.000')
      WHEN 'F' THEN sb_dt_pad(y, 4) || '-' || lpad(mo::text, 2, '0') || '-' || lpad(d::text, 2, '0')
      WHEN 'G' THEN sb_dt_pad(ymd2[1], 4)
      WHEN 'g' THEN sb_dt_pad(ymd2[1] % 100, 2)
      WHEN 'H' THEN lpad(h::text, 2, '0')
      WHEN 'k' THEN lpad(h::text, 2, ' ')
      WHEN 'I' THEN lpad(h12::text, 2, '0')
      WHEN 'l' THEN lpad(h12::text, 2, ' ')
      WHEN 'j' THEN lpad((dj + 1)::text, 3, '0')
      WHEN 'J' THEN sb_fmt_g(jd / 86400000.0::float8, 16, false)
      WHEN 'm' THEN lpad(mo::text, 2, '0')
      WHEN 'M' THEN lpad(mi::text, 2, '0')
      WHEN 'p' THEN CASE WHEN h >= 12 THEN 'PM' ELSE 'AM' END
      WHEN 'P' THEN CASE WHEN h >= 12 THEN 'pm' ELSE 'am' END
      WHEN 'R' THEN lpad(h::text, 2, '0') || ':' || lpad(mi::text, 2, '0')
      WHEN 's' THEN CASE WHEN subsec
        THEN to_char((jd - 210866760000000) / 1000.0, 'FM999999999999990.000')
        ELSE (jd / 1000 - 210866760000)::text END
      WHEN 'S' THEN lpad(trunc(s)::int::text, 2, '0')
      WHEN 'T' THEN lpad(h::text, 2, '0') || ':' || lpad(mi::text, 2, '0') || ':'
                    || lpad(trunc(s)::int::text, 2, '0')
      WHEN 'u' THEN CASE WHEN dsun = 0 THEN '7' ELSE dsun::text END
      WHEN 'w' THEN dsun::text
      WHEN 'U' THEN lpad(((dj - dsun + 7) / 7)::text, 2, '0')
      WHEN 'V' THEN lpad((((jd2 - sb_dt_jd(ymd2[1], 1, 1, h, mi, s, true, 0) + 43200000)
                           / 86400000) / 7 + 1)::text, 2, '0')
      WHEN 'W' THEN lpad(((dj - dmon + 7) / 7)::text, 2, '0')
      WHEN 'Y' THEN sb_dt_pad(y, 4)
      WHEN '%' THEN '%'
    END;
    IF res IS NULL THEN
      RETURN NULL;
    END IF;
  END LOOP;
  RETURN res;
END
$$;

-- printf("%0<w>d").
CREATE OR REPLACE FUNCTION sb_dt_pad(v int, w int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN v < 0 THEN '-' || lpad(abs(v)::text, greatest(w - 1, length(abs(v)::text)), '0')
    ELSE lpad(v::text, greatest(w, length(v::text)), '0')
  END
$$;

-- SQLite's strftime(fmt, t, mods...); t is a canonical value (number or text).
CREATE OR REPLACE FUNCTION sb_strftime(fmt text, t jsonb, mods text[]) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  jd int8;
  vjd boolean := false;
  y int := 2000;
  mo int := 1;
  d int := 1;
  vymd boolean := false;
  h int := 0;
  mi int := 0;
  s float8 := 0;
  vhms boolean := false;
  tz int := 0;
  nfloor int := 0;
  raw boolean := false;
  subsec boolean := false;
  is_utc boolean := false;
  is_local boolean := false;
  str text;
  m text[];
  hms float8[];
  ymd int[];
  r float8;
  md text;
  lmd text;
  idx int := 0;
  num text;
  rest text;
  unit text;
  xform float8;
  lim float8;
  k int8;
  wd int;
  off int8;
  ok boolean;
BEGIN
  IF fmt IS NULL OR t IS NULL THEN
    RETURN NULL;
  END IF;
  -- isDate: the time value.
  IF jsonb_typeof(t) = 'number' THEN
    r := t::float8;
    s := r;
    raw := true;
    IF r >= 0 AND r < 5373484.5 THEN
      jd := trunc(r * 86400000 + 0.5)::int8;
      vjd := true;
    END IF;
  ELSE
    str := t #>> '{}';
    m := regexp_match(str, '^(-?)([0-9]{4})-([0-9]{2})-([0-9]{2})(.*)$');
    ok := false;
    IF m IS NOT NULL AND m[3]::int BETWEEN 1 AND 12 AND m[4]::int BETWEEN 1 AND 31 THEN
      rest := regexp_replace(m[5], '^[[:space:]T]*', '');
      IF rest = '' THEN
        ok := true;
      ELSE
        hms := sb_dt_hms(rest);
        IF hms IS NOT NULL THEN
          ok := true;
          h := hms[1]::int;
          mi := hms[2]::int;
          s := hms[3];
          tz := hms[4]::int;
          is_utc := hms[5] = 1;
          vhms := true;
        END IF;
      END IF;
      IF ok THEN
        y := m[2]::int * CASE WHEN m[1] = '-' THEN -1 ELSE 1 END;
        mo := m[3]::int;
        d := m[4]::int;
        vymd := true;
        nfloor := sb_dt_floor(y, mo, d);
        IF tz <> 0 THEN
          jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
          IF jd IS NULL THEN
            RETURN NULL;
          END IF;
          vjd := true;
          vymd := false;
          vhms := false;
          tz := 0;
          is_utc := true;
        END IF;
      END IF;
    END IF;
    IF NOT ok THEN
      hms := sb_dt_hms(str);
      IF hms IS NOT NULL THEN
        h := hms[1]::int;
        mi := hms[2]::int;
        s := hms[3];
        tz := hms[4]::int;
        is_utc := hms[5] = 1;
        vhms := true;
      ELSIF lower(str) = 'now' OR lower(str) IN ('subsec', 'subsecond') THEN
        jd := (floor(extract(epoch FROM statement_timestamp()) * 1000))::int8 + 210866760000000;
        vjd := true;
        is_utc := true;
        subsec := lower(str) <> 'now';
      ELSIF sb_is_num(str) THEN
        r := sb_to_float(str);
        s := r;
        raw := true;
        IF r >= 0 AND r < 5373484.5 THEN
          jd := trunc(r * 86400000 + 0.5)::int8;
          vjd := true;
        END IF;
      ELSE
        RETURN NULL;
      END IF;
    END IF;
  END IF;

  -- Modifiers.
  FOREACH md IN ARRAY coalesce(mods, ARRAY[]::text[]) LOOP
    idx := idx + 1;
    IF md IS NULL THEN
      RETURN NULL;
    END IF;
    lmd := lower(md);
    ok := false;
    IF lmd = 'auto' THEN
      IF idx > 1 THEN
        RETURN NULL;
      END IF;
      IF NOT raw OR vjd THEN
        raw := false;
      ELSIF s >= -210866760000 AND s <= 253402300799 THEN
        jd := trunc(s * 1000.0 + 210866760000000 + 0.5)::int8;
        vjd := true;
        vymd := false;
        vhms := false;
        tz := 0;
        raw := false;
      END IF;
      ok := true;
    ELSIF lmd IN ('ceiling', 'floor') THEN
      IF NOT vjd THEN
        IF raw THEN RETURN NULL; END IF;
        jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
        IF jd IS NULL THEN RETURN NULL; END IF;
        vjd := true;
      END IF;
      IF lmd = 'floor' THEN
        jd := jd - nfloor * 86400000::int8;
      ELSE
        nfloor := 0;
      END IF;
      vymd := false;
      vhms := false;
      tz := 0;
      ok := true;
    ELSIF lmd = 'julianday' THEN
      IF idx > 1 THEN
        RETURN NULL;
      END IF;
      IF vjd AND raw THEN
        raw := false;
        ok := true;
      END IF;
    ELSIF lmd = 'localtime' THEN
      -- The server's time zone is UTC: the conversion is the identity, except that it
      -- recovers from an invalid date as SQLite does (to 2000-01-01 00:00:00).
      IF NOT is_local THEN
        IF NOT vjd AND (raw OR (CASE WHEN vymd THEN y ELSE 2000 END) NOT BETWEEN -4713 AND 9999) THEN
          y := 2000; mo := 1; d := 1; h := 0; mi := 0; s := 0;
        ELSE
          IF NOT vjd THEN
            jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
          END IF;
          IF jd < 0 OR jd > 464269060799999 THEN
            RETURN NULL;
          END IF;
          ymd := sb_dt_ymd(jd); y := ymd[1]; mo := ymd[2]; d := ymd[3];
          k := (jd + 43200000) % 86400000;
          s := (k % 60000) / 1000.0;
          mi := ((k / 60000) % 60)::int;
          h := (k / 3600000)::int;
        END IF;
        vymd := true; vhms := true; vjd := false; raw := false; tz := 0;
      END IF;
      is_utc := false;
      is_local := true;
      ok := true;
    ELSIF lmd = 'utc' THEN
      IF NOT is_utc THEN
        IF NOT vjd THEN
          IF raw THEN
            jd := NULL;
          ELSE
            jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
          END IF;
        END IF;
        jd := coalesce(jd, 0);
        vjd := true; vymd := false; vhms := false; raw := false; tz := 0;
        subsec := false; nfloor := 0; is_local := false;
      END IF;
      is_utc := true;
      ok := true;
    ELSIF lmd = 'unixepoch' THEN
      IF raw AND idx = 1 THEN
        r := s * 1000.0 + 210866760000000.0;
        IF r >= 0 AND r < 464269060800000.0 THEN
          jd := trunc(r + 0.5)::int8;
          vjd := true;
          vymd := false;
          vhms := false;
          tz := 0;
          raw := false;
          ok := true;
        END IF;
      END IF;
    ELSIF lmd IN ('subsec', 'subsecond') THEN
      subsec := true;
      ok := true;
    ELSIF lmd LIKE 'weekday %' THEN
      num := substr(md, 9);
      IF sb_is_num(num) THEN
        r := sb_to_float(num);
        IF r >= 0 AND r < 7 AND r = trunc(r) THEN
          wd := r::int;
          -- computeYMD_HMS, then recompute the julian day without the time zone.
          IF NOT vymd THEN
            IF NOT vjd THEN
              y := 2000; mo := 1; d := 1;
            ELSIF jd < 0 OR jd > 464269060799999 THEN
              RETURN NULL;
            ELSE
              ymd := sb_dt_ymd(jd); y := ymd[1]; mo := ymd[2]; d := ymd[3];
            END IF;
            vymd := true;
          END IF;
          IF NOT vhms THEN
            IF NOT vjd THEN
              IF raw THEN RETURN NULL; END IF;
              jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
              IF jd IS NULL THEN RETURN NULL; END IF;
              vjd := true;
            END IF;
            k := (jd + 43200000) % 86400000;
            s := (k % 60000) / 1000.0;
            mi := ((k / 60000) % 60)::int;
            h := (k / 3600000)::int;
            raw := false;
            vhms := true;
          END IF;
          tz := 0;
          IF raw THEN RETURN NULL; END IF;
          jd := sb_dt_jd(y, mo, d, h, mi, s, true, 0);
          IF jd IS NULL THEN RETURN NULL; END IF;
          k := ((jd + 129600000) / 86400000) % 7;
          IF k > wd THEN
            k := k - 7;
          END IF;
          jd := jd + (wd - k) * 86400000;
          vjd := true;
          vymd := false;
          vhms := false;
          ok := true;
        END IF;
      END IF;
    ELSIF lmd LIKE 'start of %' THEN
      IF NOT vjd AND NOT vymd AND NOT vhms THEN
        RETURN NULL;
      END IF;
      IF NOT vymd THEN
        IF NOT vjd THEN
          y := 2000; mo := 1; d := 1;
        ELSIF jd < 0 OR jd > 464269060799999 THEN
          RETURN NULL;
        ELSE
          ymd := sb_dt_ymd(jd); y := ymd[1]; mo := ymd[2]; d := ymd[3];
        END IF;
        vymd := true;
      END IF;
      vhms := true;
      h := 0;
      mi := 0;
      s := 0;
      raw := false;
      tz := 0;
      vjd := false;
      IF lmd = 'start of month' THEN
        d := 1;
        ok := true;
      ELSIF lmd = 'start of year' THEN
        mo := 1;
        d := 1;
        ok := true;
      ELSIF lmd = 'start of day' THEN
        ok := true;
      END IF;
    ELSIF md ~ '^[-+0-9]' THEN
      m := regexp_match(md, '^([^:[:space:]]+)([:[:space:]].*)?$');
      num := m[1];
      rest := coalesce(m[2], '');
      IF num IS NULL OR NOT sb_is_num(num) OR num ~ '^[-+]?[0-9]{4,5}-' THEN
        RETURN NULL;
      END IF;
      r := sb_to_float(num);
      IF rest LIKE ':%' THEN
        -- (+|-)HH:MM[:SS[.FFF]]: a time-of-day offset.
        hms := sb_dt_hms(regexp_replace(md, '^[-+]', ''));
        IF hms IS NULL THEN
          RETURN NULL;
        END IF;
        off := hms[1]::int8 * 3600000 + hms[2]::int8 * 60000 + trunc(hms[3] * 1000 + 0.5)::int8
               - hms[4]::int8 * 60000;
        off := ((off % 86400000) + 86400000) % 86400000;
        IF md LIKE '-%' THEN
          off := -off;
        END IF;
        IF NOT vjd THEN
          IF raw THEN RETURN NULL; END IF;
          jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
          IF jd IS NULL THEN RETURN NULL; END IF;
          vjd := true;
        END IF;
        vymd := false;
        vhms := false;
        tz := 0;
        jd := jd + off;
        ok := true;
      ELSE
        -- NNN unit(s).
        unit := lower(regexp_replace(rest, '^[[:space:]]*', ''));
        IF length(unit) < 3 OR length(unit) > 10 THEN
          RETURN NULL;
        END IF;
        IF right(unit, 1) = 's' THEN
          unit := left(unit, -1);
        END IF;
        IF NOT vjd THEN
          IF raw THEN RETURN NULL; END IF;
          jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
          IF jd IS NULL THEN RETURN NULL; END IF;
          vjd := true;
          IF vhms AND tz <> 0 THEN vymd := false; vhms := false; tz := 0; END IF;
        END IF;
        nfloor := 0;
        SELECT u.x, u.l INTO xform, lim FROM (VALUES
          ('second', 1.0::float8, 4.6427e+14::float8), ('minute', 60.0, 7.7379e+12),
          ('hour', 3600.0, 1.2897e+11), ('day', 86400.0, 5373485.0),
          ('month', 2592000.0, 176546.0), ('year', 31536000.0, 14713.0)) AS u(n, x, l)
        WHERE u.n = unit;
        IF xform IS NULL OR NOT (r > -lim AND r < lim) THEN
          RETURN NULL;
        END IF;
        IF unit IN ('month', 'year') THEN
          -- computeYMD_HMS
          IF NOT vymd THEN
            IF jd < 0 OR jd > 464269060799999 THEN
              RETURN NULL;
            END IF;
            ymd := sb_dt_ymd(jd); y := ymd[1]; mo := ymd[2]; d := ymd[3];
            vymd := true;
          END IF;
          IF NOT vhms THEN
            k := (jd + 43200000) % 86400000;
            s := (k % 60000) / 1000.0;
            mi := ((k / 60000) % 60)::int;
            h := (k / 3600000)::int;
            raw := false;
            vhms := true;
          END IF;
          IF unit = 'month' THEN
            mo := mo + trunc(r)::int;
            k := CASE WHEN mo > 0 THEN (mo - 1) / 12 ELSE (mo - 12) / 12 END;
            y := y + k::int;
            mo := mo - k::int * 12;
          ELSE
            y := y + trunc(r)::int;
          END IF;
          nfloor := sb_dt_floor(y, mo, d);
          r := r - trunc(r);
          jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
          IF jd IS NULL THEN RETURN NULL; END IF;
        END IF;
        jd := jd + trunc(r * 1000.0 * xform + CASE WHEN r < 0 THEN -0.5 ELSE 0.5 END)::int8;
        vjd := true;
        vymd := false;
        vhms := false;
        tz := 0;
        ok := true;
      END IF;
    END IF;
    IF NOT ok THEN
      RETURN NULL;
    END IF;
  END LOOP;

  -- Final computeJD and range check.
  IF NOT vjd THEN
    IF raw THEN RETURN NULL; END IF;
    jd := sb_dt_jd(y, mo, d, h, mi, s, vhms, tz);
    IF jd IS NULL THEN RETURN NULL; END IF;
    vjd := true;
    IF vhms AND tz <> 0 THEN vymd := false; vhms := false; tz := 0; END IF;
  END IF;
  IF jd < 0 OR jd > 464269060799999 THEN
    RETURN NULL;
  END IF;
  IF idx = 0 AND vymd AND d > 28 THEN
    vymd := false;
  END IF;
  IF NOT vymd THEN
    ymd := sb_dt_ymd(jd); y := ymd[1]; mo := ymd[2]; d := ymd[3];
  END IF;
  IF NOT vhms THEN
    k := (jd + 43200000) % 86400000;
    s := (k % 60000) / 1000.0;
    mi := ((k / 60000) % 60)::int;
    h := (k / 3600000)::int;
  END IF;
  RETURN sb_dt_format(fmt, jd, y, mo, d, h, mi, s, subsec);
END
$$;
