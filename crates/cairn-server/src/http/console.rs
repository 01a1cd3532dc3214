//! The console (`/console`): a browser UI for people, as static files
//! embedded in the binary (`crates/cairn-server/console/`). It holds no data
//! and no privileged path: its scripts call the same REST API as everything
//! else, with the token the user signs in with. So its files are served
//! without a token, like `/health`, and, like `/mcp`, stay out of the OpenAPI
//! document: they are not part of the API (`docs/console.md`).
//!
//! Every answer carries a Content-Security-Policy that allows scripts,
//! styles and connections to this origin only (no inline script, no
//! `eval`, nothing from elsewhere), and forbids framing.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use cairn_api::ErrorCode;

use super::{ApiError, AppState};

/// The console's Content-Security-Policy: same origin for everything the
/// pages load or call, no inline scripts or styles, no plugins, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/console/`, content type and bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_str!(concat!("../../console/", $name)),
        }
    };
}

/// Every file of the console. `index.html` is also `/console` itself.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("console.css", CSS),
    asset!("js/main.js", JS),
    asset!("js/api.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/router.js", JS),
    asset!("js/signin.js", JS),
    asset!("js/stores.js", JS),
    asset!("js/tree.js", JS),
    asset!("js/file.js", JS),
    asset!("js/merge.js", JS),
    asset!("js/history.js", JS),
    asset!("js/rollback.js", JS),
    asset!("js/redact.js", JS),
    asset!("js/audit.js", JS),
    asset!("js/admin.js", JS),
    asset!("js/cluster.js", JS),
    asset!("js/live.js", JS),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{*file}", get(file))
}

async fn index() -> Response {
    serve(asset("index.html"))
}

async fn file(Path(file): Path<String>) -> Response {
    serve(asset(&file))
}

fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

fn serve(asset: Option<&'static Asset>) -> Response {
    let Some(asset) = asset else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such console file",
        )
        .into_response();
    };
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The files change with the binary; a browser revalidates each load.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// What an asset may not contain: any reference to another origin.
pub fn external_references(body: &str) -> Vec<String> {
    let lower = body.to_ascii_lowercase();
    [
        "http:",
        "https:",
        "ws:",
        "wss:",
        "//cdn",
        "src=\"//",
        "href=\"//",
        "url(//",
        "@import",
    ]
    .iter()
    .filter(|needle| lower.contains(*needle))
    .map(|needle| (*needle).to_string())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_asset_references_another_origin() {
        for asset in ASSETS {
            assert_eq!(
                external_references(asset.body),
                Vec::<String>::new(),
                "{} references another origin",
                asset.name
            );
        }
        assert_eq!(
            external_references("<script src=\"https://cdn.example/x.js\"></script>"),
            vec!["https:".to_string(), "//cdn".to_string()]
        );
    }

    #[test]
    fn every_module_the_console_imports_is_embedded() {
        for module in ASSETS.iter().filter(|asset| asset.content_type == JS) {
            for line in module.body.lines() {
                let Some(start) = line.find("from './") else {
                    continue;
                };
                let rest = &line[start + "from './".len()..];
                let end = rest.find('\'').unwrap_or(rest.len());
                let target = format!("js/{}", &rest[..end]);
                assert!(
                    asset(&target).is_some(),
                    "{} imports {target}, which is not embedded",
                    module.name
                );
            }
        }
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let page = asset("index.html")
            .map(|asset| asset.body)
            .unwrap_or_default();
        assert!(page.contains("<script type=\"module\" src=\"/console/js/main.js\">"));
        assert_eq!(page.matches("<script").count(), 1, "one script, by src");
        assert!(!page.contains("<style"), "styles come from console.css");
        assert!(!page.contains(" style="), "no inline style attributes");
        assert!(!page.contains("onclick"), "no inline event handlers");
    }
}
