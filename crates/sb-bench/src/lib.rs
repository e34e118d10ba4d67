//! Side-by-side benchmark of PocketBase-compatible servers over their public HTTP API.
//!
//! `setup` gives a server the benchmark's collections and deterministic data, `run` measures one
//! scenario with a load driver (and, given the server's pids, its CPU time and peak memory), and
//! `report` turns the JSON results into markdown and, optionally, a PNG bar chart. Because only
//! the public API is used, the same binary measures the reference PocketBase and Scalebase.
//! `bench/run.sh` in the repository drives a whole comparison. `realtime` holds the pure parts of
//! the realtime fan-out scenario that the `realtime_bench` binary runs.

pub mod chart;
pub mod data;
pub mod load;
pub mod procstat;
pub mod realtime;
pub mod report;
pub mod results;
pub mod scenario;
pub mod setup;
