//! The OpenAPI 3.1 document of central's API, served at `GET /api/v1/openapi.json`. Hand-written
//! (`openapi.json` next to this file); the tests below hold it, [`super::ROUTES`] and the router's
//! route calls to the same set of operations.

/// The document as served.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// The HTTP methods an OpenAPI path item may hold, as its keys spell them.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The `(METHOD, path)` operations of an OpenAPI document, sorted.
pub fn operations(document: &serde_json::Value) -> Vec<(String, String)> {
    let mut operations: Vec<(String, String)> = document
        .get("paths")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(|method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect();
    operations.sort();
    operations
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::central::ROUTES;
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(OPENAPI_JSON).expect("openapi.json is JSON")
    }

    fn routes() -> Vec<(String, String)> {
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
            .collect();
        routes.sort();
        routes
    }

    /// The `(METHOD, path)` pairs of every `.route("path", get(..).post(..))` call in `source`.
    fn routed_in(source: &str) -> Vec<(String, String)> {
        let needle = ".route(";
        let mut found = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find(needle) {
            // The call runs from `(` to the parenthesis that closes it.
            let call = &rest[start + needle.len() - 1..];
            let mut depth = 0usize;
            let mut end = call.len();
            for (i, c) in call.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let arguments = call[1..end].trim_start();
            let literal = arguments
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("a .route call without a path literal: {arguments}"));
            let (path, methods) = literal.split_once('"').expect("a closed path literal");
            for method in METHODS {
                let call = format!("{method}(");
                let named = methods.match_indices(&call).any(|(at, _)| {
                    !methods[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if named {
                    found.push((method.to_ascii_uppercase(), path.to_owned()));
                }
            }
            rest = &rest[start + needle.len()..];
        }
        found.sort();
        found
    }

    #[test]
    fn the_document_describes_exactly_the_routes() {
        let document = document();
        let version = document["openapi"].as_str().expect("an openapi version");
        assert!(version.starts_with("3."), "OpenAPI 3.x, not {version}");
        assert_eq!(operations(&document), routes());
    }

    #[test]
    fn the_router_routes_exactly_the_listed_routes() {
        let source = include_str!("http.rs");
        let routed = routed_in(source);
        assert!(!routed.is_empty(), "found no .route calls in http.rs");
        assert_eq!(routed, routes(), "ROUTES and router() in http.rs disagree");
    }

    /// The failed-token limit wraps the routes routed before `.route_layer(` in `router()`: they
    /// must be exactly those the document says need a token, so a new route with a token check
    /// cannot slip past the limit.
    #[test]
    fn the_failed_token_limit_wraps_exactly_the_routes_that_need_a_token() {
        let source = include_str!("http.rs");
        let router = &source[source.find("pub fn router(").expect("router()")..];
        let limited = routed_in(&router[..router.find(".route_layer(").expect("a route_layer")]);
        let document = document();
        let mut secured: Vec<(String, String)> = operations(&document)
            .into_iter()
            .filter(|(method, path)| {
                document["paths"][path.as_str()][method.to_ascii_lowercase().as_str()]
                    .get("security")
                    .is_some()
            })
            .collect();
        secured.sort();
        assert!(!secured.is_empty());
        assert_eq!(limited, secured);
        for (method, path) in &secured {
            let operation = &document["paths"][path.as_str()][method.to_ascii_lowercase().as_str()];
            assert!(
                operation["responses"].get("429").is_some(),
                "{method} {path} documents its 429"
            );
        }
    }

    #[test]
    fn the_route_parser_reads_chained_and_wrapped_calls() {
        let source = r#"
            Router::new()
                .route("/a/{x}", get(a).post(post_a))
                .route(
                    "/b",
                    delete(b),
                )
                .route("/c", get(forget))
        "#;
        assert_eq!(
            routed_in(source),
            [
                ("DELETE".to_owned(), "/b".to_owned()),
                ("GET".to_owned(), "/a/{x}".to_owned()),
                ("GET".to_owned(), "/c".to_owned()),
                ("POST".to_owned(), "/a/{x}".to_owned()),
            ]
        );
    }

    #[test]
    fn path_parameters_are_declared_and_station_routes_need_a_token() {
        let document = document();
        for (method, path) in operations(&document) {
            let operation = &document["paths"][&path][method.to_ascii_lowercase()];
            assert!(
                operation["responses"]["200"].is_object(),
                "{method} {path}: no 200 answer"
            );
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            let templated: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, templated, "{method} {path}: path parameters");
            let scheme = operation["security"][0]
                .as_object()
                .and_then(|requirement| requirement.keys().next().cloned());
            let wanted = if path.starts_with("/api/v1/stations/") {
                Some("stationToken")
            } else if method == "POST"
                && (path.starts_with("/api/v1/lots/")
                    || path.starts_with("/api/v1/work-orders/")
                    || path.starts_with("/api/v1/import/"))
            {
                Some("adminToken")
            } else {
                None
            };
            assert_eq!(
                scheme.as_deref(),
                wanted,
                "{method} {path}: a station token on the station routes, an admin token on the \
                 admin routes, none elsewhere"
            );
        }
        for scheme in ["stationToken", "adminToken"] {
            assert_eq!(
                document["components"]["securitySchemes"][scheme]["scheme"],
                "bearer"
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        out.push(target);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let document = document();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let pointer = target.strip_prefix('#').expect("a local reference");
            assert!(
                document.pointer(pointer).is_some(),
                "{target} does not resolve"
            );
        }
    }
}
