//! Identifier generation: record ids, collection ids (`pbc_` + crc32), field ids, and values
//! generated from `autogeneratePattern` regexes (spec §1.8).
