//! Test worlds for akvsync.
