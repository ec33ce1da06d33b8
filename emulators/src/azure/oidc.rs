//! The metadata documents Entra ID serves before any token is asked for: the OpenID Connect
//! configuration of a tenant (v2.0 at `/{tenant}/v2.0/.well-known/openid-configuration`, v1 at
//! `/{tenant}/.well-known/openid-configuration`) and instance discovery
//! (`/common/discovery/instance`). MSAL (under the Python, .NET, Java and JavaScript Azure SDKs)
//! reads `authorization_endpoint`, `token_endpoint` and `device_authorization_endpoint` from the
//! configuration and refuses a document without them, so every field Entra serves is served,
//! with Entra's values and this emulator's authority in place of `login.microsoftonline.com`.
//!
//! Only the token and key endpoints answer here: the interactive endpoints (authorize, device
//! code, logout, kerberos, userinfo) are advertised because clients require them in the document,
//! and answer 404 like any other unknown path.

use serde_json::{Value, json};

/// Tenants that are not a directory but a sign-in audience; their documents carry the
/// `{tenantid}` placeholder in `issuer`, as Entra's do.
pub const AUDIENCE_TENANTS: [&str; 3] = ["common", "organizations", "consumers"];

/// `tenant_region_scope` of every emulated tenant (Entra answers `null` for the audience tenants).
const REGION_SCOPE: &str = "NA";

/// The claims Entra lists for v2.0 tokens.
const CLAIMS_V2: [&str; 19] = [
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "nonce",
    "preferred_username",
    "name",
    "tid",
    "ver",
    "at_hash",
    "c_hash",
    "email",
];

/// The claims Entra lists for v1 tokens.
const CLAIMS_V1: [&str; 17] = [
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "amr",
    "nonce",
    "email",
    "given_name",
    "family_name",
    "nickname",
];

fn is_audience_tenant(tenant: &str) -> bool {
    AUDIENCE_TENANTS.contains(&tenant)
}

/// The v2.0 OpenID configuration of `tenant` at `authority` (`https://login.localhost:<port>`).
pub fn configuration_v2(authority: &str, tenant: &str) -> Value {
    let audience = is_audience_tenant(tenant);
    let issuer_tenant = if audience { "{tenantid}" } else { tenant };
    json!({
        "token_endpoint": format!("{authority}/{tenant}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{authority}/{tenant}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{authority}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{authority}/{tenant}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{authority}/{tenant}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{authority}/{tenant}/oauth2/v2.0/logout"),
        "claims_supported": CLAIMS_V2,
        "kerberos_endpoint": format!("{authority}/{tenant}/kerberos"),
        "tenant_region_scope": if audience { Value::Null } else { json!(REGION_SCOPE) },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

/// The v1 OpenID configuration of `tenant`: v1 endpoints, the `sts.windows.net` issuer and the
/// tenant-independent key set, as Entra serves it.
pub fn configuration_v1(authority: &str, tenant: &str) -> Value {
    let audience = is_audience_tenant(tenant);
    let issuer_tenant = if audience { "{tenantid}" } else { tenant };
    json!({
        "token_endpoint": format!("{authority}/{tenant}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{authority}/common/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": format!("https://sts.windows.net/{issuer_tenant}/"),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{authority}/{tenant}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{authority}/{tenant}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{authority}/{tenant}/oauth2/logout"),
        "claims_supported": CLAIMS_V1,
        "check_session_iframe": format!("{authority}/{tenant}/oauth2/checksession"),
        "userinfo_endpoint": format!("{authority}/{tenant}/openid/userinfo"),
        "kerberos_endpoint": format!("{authority}/{tenant}/kerberos"),
        "tenant_region_scope": if audience { Value::Null } else { json!(REGION_SCOPE) },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    })
}

/// Why instance discovery refused an `authorization_endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceDiscoveryError {
    /// The endpoint is not an `https` URL on this emulator's authority host.
    #[error("unknown or invalid instance {0}")]
    UnknownInstance(String),
}

/// The instance-discovery answer for `authorization_endpoint` (for example
/// `https://login.localhost:<port>/<tenant>/oauth2/v2.0/authorize`): the tenant's discovery
/// document (v2.0 for a v2.0 authorize endpoint, else v1), the API version asked for, and the
/// one cloud this emulator is, known by its host with and without its port.
pub fn instance_discovery(
    authority: &str,
    authorization_endpoint: Option<&str>,
    api_version: &str,
) -> Result<Value, InstanceDiscoveryError> {
    let netloc = authority.trim_start_matches("https://");
    let (host, port) = netloc.split_once(':').unwrap_or((netloc, ""));
    let (tenant, v2) = match authorization_endpoint {
        None => ("common".to_string(), true),
        Some(endpoint) => {
            let unknown = || InstanceDiscoveryError::UnknownInstance(endpoint.to_string());
            let url = url::Url::parse(endpoint).map_err(|_| unknown())?;
            // MSAL Python sends the host without its port; others send host and port.
            let same_port = url.port().is_none_or(|p| p.to_string() == port);
            if url.scheme() != "https" || url.host_str() != Some(host) || !same_port {
                return Err(unknown());
            }
            let mut segments = url.path_segments().ok_or_else(unknown)?;
            let tenant = segments
                .next()
                .filter(|t| !t.is_empty())
                .unwrap_or("common");
            let v2 = segments.any(|segment| segment == "v2.0");
            (tenant.to_string(), v2)
        }
    };
    let version = if v2 { "/v2.0" } else { "" };
    Ok(json!({
        "tenant_discovery_endpoint": format!("{authority}/{tenant}{version}/.well-known/openid-configuration"),
        "api-version": api_version,
        "metadata": [{
            "preferred_network": netloc,
            "preferred_cache": netloc,
            "aliases": [netloc, host],
        }],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTHORITY: &str = "https://login.localhost:8443";

    #[test]
    fn v2_configuration_names_the_endpoints_msal_reads() {
        let document = configuration_v2(AUTHORITY, "contoso");
        assert_eq!(
            document["authorization_endpoint"],
            "https://login.localhost:8443/contoso/oauth2/v2.0/authorize"
        );
        assert_eq!(
            document["token_endpoint"],
            "https://login.localhost:8443/contoso/oauth2/v2.0/token"
        );
        assert_eq!(
            document["issuer"],
            "https://login.localhost:8443/contoso/v2.0"
        );
        assert_eq!(document["tenant_region_scope"], "NA");
    }

    #[test]
    fn audience_tenants_carry_the_tenant_placeholder_in_their_issuer() {
        let document = configuration_v2(AUTHORITY, "common");
        assert_eq!(
            document["issuer"],
            "https://login.localhost:8443/{tenantid}/v2.0"
        );
        assert_eq!(document["tenant_region_scope"], Value::Null);
        assert_eq!(
            configuration_v1(AUTHORITY, "organizations")["issuer"],
            "https://sts.windows.net/{tenantid}/"
        );
    }

    #[test]
    fn instance_discovery_follows_the_authorize_endpoint_version_and_refuses_other_hosts() {
        let v2 = instance_discovery(
            AUTHORITY,
            Some("https://login.localhost:8443/contoso/oauth2/v2.0/authorize"),
            "1.1",
        )
        .unwrap();
        assert_eq!(
            v2["tenant_discovery_endpoint"],
            "https://login.localhost:8443/contoso/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(v2["metadata"][0]["aliases"][0], "login.localhost:8443");
        let portless = instance_discovery(
            AUTHORITY,
            Some("https://login.localhost/contoso/oauth2/v2.0/authorize"),
            "1.0",
        )
        .unwrap();
        assert_eq!(
            portless["tenant_discovery_endpoint"],
            v2["tenant_discovery_endpoint"]
        );
        let v1 = instance_discovery(
            AUTHORITY,
            Some("https://login.localhost:8443/contoso/oauth2/authorize"),
            "1.0",
        )
        .unwrap();
        assert_eq!(
            v1["tenant_discovery_endpoint"],
            "https://login.localhost:8443/contoso/.well-known/openid-configuration"
        );
        assert!(
            instance_discovery(
                AUTHORITY,
                Some("https://login.microsoftonline.com/contoso/oauth2/v2.0/authorize"),
                "1.1"
            )
            .is_err()
        );
        assert!(
            instance_discovery(
                AUTHORITY,
                Some("https://login.localhost:9999/contoso/oauth2/v2.0/authorize"),
                "1.1"
            )
            .is_err()
        );
    }
}
