//! What `oidc-edge serve` prints at start-up: where it listens, the store, where the secrets
//! are, the delivery policy, and with `--demo` a copy-paste walkthrough of the whole protocol.

use std::time::Duration;

use oidc_edge_core::host::Host as _;

use super::bind::BoundServer;
use super::config::{ADMIN_TOKEN_ENV, MASTER_KEY_ENV, STORE_FILE, SecretSource};

impl BoundServer {
    /// What `oidc-edge serve` prints at start-up: where it listens, the store, where the
    /// secrets are (a generated admin token is shown here, the only time it is shown), and
    /// with `--demo` a copy-paste walkthrough.
    pub fn banner(&self) -> String {
        let base = self.base_url();
        let mut out = format!("oidc-edge listening on http://{}\n", self.local_addr);
        out.push_str(&format!("  issuer of realm R: {base}/realms/R\n"));
        if self.base_url_defaulted && self.local_addr.ip().is_unspecified() {
            out.push_str(
                "  note: listening on every interface; set --base-url to the address clients use\n",
            );
        }
        if let Some(addr) = self.metrics_addr() {
            out.push_str(&format!(
                "  metrics: http://{addr}/metrics (no token; on the main address it needs the admin token)\n"
            ));
        }
        match &self.data {
            Some(dir) => out.push_str(&format!("  store: {}\n", dir.join(STORE_FILE).display())),
            None => out.push_str("  store: memory (everything is lost at exit)\n"),
        }
        let token_expr = match &self.admin_token_source {
            SecretSource::Given => {
                out.push_str(&format!("  admin token: given (${ADMIN_TOKEN_ENV})\n"));
                format!("${ADMIN_TOKEN_ENV}")
            }
            SecretSource::File(path) => {
                out.push_str(&format!("  admin token: in {}\n", path.display()));
                format!("$(cat {})", shell_quote(&path.display().to_string()))
            }
            SecretSource::Generated(path) => {
                out.push_str(&format!(
                    "  admin token (generated; shown this once, kept in {}):\n    {}\n",
                    path.display(),
                    self.admin_token()
                ));
                format!("$(cat {})", shell_quote(&path.display().to_string()))
            }
            SecretSource::Ephemeral => {
                out.push_str(&format!(
                    "  admin token (generated for this run; set {ADMIN_TOKEN_ENV} to choose one):\n    {}\n",
                    self.admin_token()
                ));
                shell_quote(self.admin_token())
            }
        };
        match &self.master_key_source {
            SecretSource::Given => {
                out.push_str(&format!("  master key: given (${MASTER_KEY_ENV})\n"));
            }
            SecretSource::File(path) => {
                out.push_str(&format!("  master key: in {}\n", path.display()));
            }
            SecretSource::Generated(path) => out.push_str(&format!(
                "  master key: generated into {} (back it up: signing keys are sealed with it)\n",
                path.display()
            )),
            SecretSource::Ephemeral => {
                out.push_str("  master key: generated for this run\n");
            }
        }
        let p = &self.host().config().delivery;
        out.push_str(&format!(
            "  back-channel logout: {} ms timeout, {} retries from {} ms, {} at once; sessions swept every {}\n",
            p.timeout_ms,
            p.retry_max,
            p.retry_base_ms,
            p.concurrency,
            human_duration(self.sweep_interval),
        ));
        if self.demo {
            out.push('\n');
            out.push_str(&walkthrough(base, &token_expr));
        }
        out
    }
}

/// `30 s`, `2 min`, `250 ms`.
fn human_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) {
        format!("{} min", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

/// Quote for a POSIX shell when needed.
fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The PKCE pair of the walkthrough (RFC 7636: challenge = base64url(SHA-256(verifier))).
const TRY_IT_VERIFIER: &str = "oidc-edge-try-it-code-verifier-0123456789abcdefghijk";
const TRY_IT_CHALLENGE: &str = "NDsrqN6H7TvxasaBv1IfHew_b8Yho9OFF7o6m9O2PKc";

/// The copy-paste walkthrough printed with `--demo`. `admin_token` is a shell expression for
/// the admin token.
fn walkthrough(base: &str, admin_token: &str) -> String {
    let realm = format!("{base}/realms/demo");
    let redirect = "http://127.0.0.1:9999/callback";
    let redirect_enc = "http%3A%2F%2F127.0.0.1%3A9999%2Fcallback";
    let logged_out = "http://127.0.0.1:9999/logged-out";
    let logged_out_enc = "http%3A%2F%2F127.0.0.1%3A9999%2Flogged-out";
    format!(
        r#"Try it: realm `demo` has open registration and user demo / changeit, and allows
back-channel logout URIs on loopback (so the RP can be your own machine).

See it at once: open {base}/demo in a browser. Two demo applications sign in (demo /
changeit), each with its own sid; sign out of one and the page lists the logout token each
received, verified, with the audit events of its delivery.

The quickest relying party of your own: `oidc-edge mock-rp --issuer {realm}` registers a
client, prints its client_id and secret, and prints every logout token it receives, verified.

  ADMIN_TOKEN={admin_token}
  SINCE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

  # 1. Discovery
  curl -s {realm}/.well-known/openid-configuration

  # 2. Register a client (RFC 7591). Keep client_id and client_secret from the answer.
  curl -s {realm}/register -H 'content-type: application/json' \
    -d '{{"client_name":"try-it","redirect_uris":["{redirect}"],"post_logout_redirect_uris":["{logged_out}"],"backchannel_logout_uri":"http://127.0.0.1:9999/backchannel-logout","backchannel_logout_session_required":true}}'
  CLIENT_ID=...; CLIENT_SECRET=...

  # 3. Open this URL in a browser, log in as demo / changeit and allow try-it on the consent
  #    page. Nothing listens on 127.0.0.1:9999 yet: copy the code from the address bar.
  echo "{realm}/authorize?response_type=code&scope=openid&client_id=$CLIENT_ID&redirect_uri={redirect_enc}&state=try-it&nonce=n-try-it&code_challenge={TRY_IT_CHALLENGE}&code_challenge_method=S256"
  CODE=...

  # 4. Exchange the code for tokens (ID token, access token).
  curl -s -u "$CLIENT_ID:$CLIENT_SECRET" {realm}/token \
    -d grant_type=authorization_code -d code="$CODE" -d redirect_uri={redirect} \
    -d code_verifier={TRY_IT_VERIFIER}
  ID_TOKEN=...

  # 5. Be the RP: in another terminal, serve the client's back-channel logout URI; it
  #    verifies each logout token (Back-Channel Logout 1.0 §2.6) and prints it.
  oidc-edge mock-rp --issuer {realm} --port 9999 --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET"

  # 6. End the session, one of these ways; the client's backchannel_logout_uri gets a
  #    logout token (from a durable outbox: retried with backoff while the RP is down).
  #  a) RP-initiated logout, in the same browser (the session cookie goes along):
  echo "{realm}/end_session?id_token_hint=$ID_TOKEN&post_logout_redirect_uri={logged_out_enc}&state=bye"
  #  b) as the admin: list user demo's sessions, end one by its id:
  curl -s -H "authorization: Bearer $ADMIN_TOKEN" '{realm_admin}/sessions?user=demo'
  curl -s -X DELETE -H "authorization: Bearer $ADMIN_TOKEN" {realm_admin}/sessions/SESSION_ID
  #  c) a session of your own, from the JSON login (its tokenId is the session token):
  curl -s {realm}/authenticate -H 'content-type: application/json' \
    -d '{{"username":"demo","password":"changeit"}}'
  TOKEN_ID=...
  curl -s -X POST {realm}/sessions/logout -H "X-Session-Token: $TOKEN_ID"

  # 7. What happened: one AM-BACK-CHANNEL-LOGOUT event per delivery attempt, and the
  #    deliveries that ran out of retries (dead letters).
  curl -s -H "authorization: Bearer $ADMIN_TOKEN" "{realm_admin}/audit?event=AM-BACK-CHANNEL-LOGOUT&since=$SINCE"
  curl -s -H "authorization: Bearer $ADMIN_TOKEN" '{realm_admin}/deliveries?state=dead'
"#,
        realm_admin = format!("{base}/admin/realms/demo"),
    )
}

#[cfg(test)]
mod tests {
    use oidc_edge_core::jose::b64;

    use super::*;

    #[test]
    fn walkthrough_pkce_pair_matches() {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(TRY_IT_VERIFIER.as_bytes());
        assert_eq!(b64::encode(digest), TRY_IT_CHALLENGE);
        assert!((43..=128).contains(&TRY_IT_VERIFIER.len()));
    }

    #[test]
    fn walkthrough_names_the_contract_paths() {
        let w = walkthrough("http://127.0.0.1:8787", "$(cat x)");
        for path in [
            "http://127.0.0.1:8787/realms/demo/.well-known/openid-configuration",
            "http://127.0.0.1:8787/realms/demo/register",
            "http://127.0.0.1:8787/realms/demo/authorize?response_type=code",
            "http://127.0.0.1:8787/realms/demo/token",
            "http://127.0.0.1:8787/realms/demo/end_session?id_token_hint=$ID_TOKEN&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Flogged-out&state=",
            "http://127.0.0.1:8787/realms/demo/authenticate",
            "-X POST http://127.0.0.1:8787/realms/demo/sessions/logout -H \"X-Session-Token: ",
            "http://127.0.0.1:8787/admin/realms/demo/sessions?user=demo",
            "-X DELETE -H \"authorization: Bearer $ADMIN_TOKEN\" http://127.0.0.1:8787/admin/realms/demo/sessions/SESSION_ID",
            "http://127.0.0.1:8787/admin/realms/demo/audit?event=AM-BACK-CHANNEL-LOGOUT&since=$SINCE",
            "http://127.0.0.1:8787/admin/realms/demo/deliveries?state=dead",
            "\"post_logout_redirect_uris\":[\"http://127.0.0.1:9999/logged-out\"]",
            "ADMIN_TOKEN=$(cat x)",
            "mock-rp --issuer http://127.0.0.1:8787/realms/demo --port 9999 --client-id",
            "open http://127.0.0.1:8787/demo in a browser",
        ] {
            assert!(w.contains(path), "{path} missing from\n{w}");
        }
    }
}
