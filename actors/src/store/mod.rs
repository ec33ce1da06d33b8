//! Store components: the per-vault limiter, the single-flight cache, and the store core that
//! combines them in front of a Key Vault client.

pub mod actor;
pub mod core;
pub mod limiter;
pub mod listing;
pub mod metrics;
pub mod service;
pub mod single_flight;

pub use self::core::{FetchResult, ListResult, ListingAccessObserver, StoreConfig, StoreCore};
pub use actor::{
    Delete, Fetch, List, Push, Reconfigure, Reconnect, Retire, RevalidationListing, StoreActor,
    StoreRequestError, StoreState,
};
pub use limiter::{
    Access, LimiterRegistry, Priority, Tenant, TenantPolicy, Turn, VaultBudget, VaultLedgers,
    VaultLimiter,
};
pub use listing::Listing;
pub use metrics::StoreMetrics;
pub use service::{Connect, ConnectFailure, Connection, StoreService};
pub use single_flight::{Served, SingleFlightCache};
