//! The actor runtime's and the store core's tests, one binary for all.

mod support;

mod actors;
mod mailbox;
mod store_core;
