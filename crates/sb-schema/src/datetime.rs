//! The wire date format `YYYY-MM-DD HH:MM:SS.sssZ` (UTC) and lenient input parsing (spec §1.7).
