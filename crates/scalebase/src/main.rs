//! The `scalebase` command.

fn main() {}
