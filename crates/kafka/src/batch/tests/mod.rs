//! Unit tests of the batch module.

mod fixtures;
mod header;
mod interop;
mod legacy;
mod rewrite;
mod split;
