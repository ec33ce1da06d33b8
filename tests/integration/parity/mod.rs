//! The ESO parity suite's parts: the case model, ESO's fixtures, the case tables and the harness
//! that runs them.

pub(crate) mod fixtures;
pub(crate) mod harness;
pub(crate) mod model;
pub(crate) mod push_cases;
pub(crate) mod read_cases;
