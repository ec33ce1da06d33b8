//! akvsync's actor system.
