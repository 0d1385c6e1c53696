//! `GET /api/openapi.json`: an OpenAPI 3.1 document of every route the server registers,
//! derived from the tables it registers them from ([`ROUTES`] and [`OPERATIONAL_ROUTES`]):
//! the methods, the path and query parameters each route accepts, the credentials it needs,
//! and the API's success and error shapes. A route cannot be served without being documented,
//! nor documented without being served.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::routes::{Accepts, LIST_PARAMS, ROUTES, Route};
use super::signature::{BodyContent, Generators, RequestBody};
use super::{ADMIN_TOKEN_HEADER, OPERATIONAL_ROUTES};
use crate::domain::names::{DEPLOYMENT_NAME_RULE, NAME_RULE};
use crate::domain::permissions::Need;

/// The document, built once.
static DOCUMENT: LazyLock<Value> = LazyLock::new(document);

/// Serves the document.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

/// The OpenAPI 3.1 document of every registered route.
pub fn document() -> Value {
    let mut generators = Generators::new();
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let (template, parameters) = template_and_path_params(route.path);
        let mut parameters = parameters;
        parameters.extend(query_params(route.accepts));
        let described = (route.describe)(&mut generators);
        let mut operation = json!({
            "operationId": operation_id(route.method, route.path),
            "tags": [tag(route.path)],
            "parameters": parameters,
            "security": security(route.need),
            "responses": api_responses(route, described.answer),
        });
        if let Some(body) = described.body {
            operation["requestBody"] = request_body(body);
        }
        insert(&mut paths, &template, route.method, operation);
    }
    for (method, path, summary) in OPERATIONAL_ROUTES {
        let (template, parameters) = template_and_path_params(path);
        let operation = json!({
            "operationId": operation_id(method, path),
            "tags": ["operations"],
            "summary": summary,
            "parameters": parameters,
            "security": [],
            "responses": {
                "200": {"description": "success", "content": {"*/*": {}}},
                "default": {"description": "see the message", "content": {"*/*": {}}},
            },
        });
        insert(&mut paths, &template, method, operation);
    }
    let mut schemas = generators.requests.take_definitions(true);
    schemas.extend(generators.answers.take_definitions(true));
    schemas.insert(
        "Success".into(),
        json!({
            "type": "object",
            "required": ["status", "message"],
            "properties": {
                "status": {"const": "success"},
                "message": {"type": "string"},
            },
        }),
    );
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "required": ["status", "error", "message"],
            "properties": {
                "status": {"const": "error"},
                "error": {"type": "string", "enum": error_codes()},
                "message": {"type": "string"},
            },
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "rockit-edge",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The appliance's HTTP API: /adm/v1 for the instance administrator, /be/v1 for orgs (users, machine users with API keys), /client/v1 for launchers, upload URLs and the depot.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {"type": "apiKey", "in": "header", "name": ADMIN_TOKEN_HEADER},
                "bearer": {"type": "http", "scheme": "bearer", "description": "an access token from /be/v1/login or an API key"},
            },
            "schemas": schemas,
        },
    })
}

fn insert(paths: &mut Map<String, Value>, template: &str, method: &str, operation: Value) {
    let item = paths
        .entry(template.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(item) = item {
        item.insert(method.to_ascii_lowercase(), operation);
    }
}

/// `/a/{name:regex}/b` → `/a/{name}/b` and its path parameters.
fn template_and_path_params(path: &str) -> (String, Vec<Value>) {
    let mut parameters = Vec::new();
    let segments: Vec<String> = path
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => {
                    let name = inner.split(':').next().unwrap_or(inner);
                    parameters.push(json!({
                        "name": name,
                        "in": "path",
                        "required": true,
                        "schema": path_param_schema(path, name),
                    }));
                    format!("{{{name}}}")
                }
                None => segment.to_string(),
            },
        )
        .collect();
    (segments.join("/"), parameters)
}

/// A path parameter naming a resource follows its name rule; others are plain strings.
fn path_param_schema(path: &str, name: &str) -> Value {
    let rule = match name {
        "name" if path.starts_with("/be/v1/deployments/") => Some(&DEPLOYMENT_NAME_RULE),
        "name" | "app" | "org" | "username" => Some(&NAME_RULE),
        _ => None,
    };
    match rule {
        Some(rule) => json!({"type": "string", "pattern": rule.pattern()}),
        None => json!({"type": "string"}),
    }
}

fn query_params(accepts: Accepts) -> Vec<Value> {
    let param = |name: &str| {
        let schema = match name {
            "offset" | "limit" => json!({"type": "integer", "minimum": 0}),
            _ if name.ends_with("[]") => json!({"type": "array", "items": {"type": "string"}}),
            _ => json!({"type": "string"}),
        };
        json!({"name": name, "in": "query", "required": false, "schema": schema})
    };
    match accepts {
        Accepts::Nothing => Vec::new(),
        Accepts::Fields => vec![param("fields[]")],
        Accepts::List(filters) => LIST_PARAMS
            .iter()
            .filter(|name| name.ends_with("[]") || matches!(**name, "offset" | "limit"))
            .chain(filters)
            .map(|name| param(name))
            .collect(),
        Accepts::Params(names) => names.iter().map(|name| param(name)).collect(),
    }
}

fn security(need: Need) -> Value {
    match need {
        Need::Public => json!([]),
        Need::Admin => json!([{"adminToken": []}]),
        _ => json!([{"bearer": []}]),
    }
}

/// A body as the handler's extractor reads it: JSON of its type, or bytes.
fn request_body(body: RequestBody) -> Value {
    let content = match body.content {
        BodyContent::Json(schema) => json!({"application/json": {"schema": schema}}),
        BodyContent::Bytes => json!({"application/octet-stream": {"schema": {}}}),
    };
    json!({"required": body.required, "content": content})
}

fn api_responses(route: &Route, answer: Option<schemars::Schema>) -> Value {
    let error = json!({
        "description": "the error shape: a code from the error-code table and a message",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    });
    let envelope = json!({"$ref": "#/components/schemas/Success"});
    let success = match answer {
        Some(payload) => json!({
            "description": "success",
            "content": {"application/json": {"schema": {"allOf": [envelope, payload]}}},
        }),
        None => json!({"description": "success", "content": {bytes_type(route.path): {}}}),
    };
    let mut responses = json!({"200": success, "4XX": error.clone(), "503": error});
    if route.path.starts_with("/depot/") {
        responses["206"] = json!({"description": "a range of the file", "content": {"*/*": {}}});
        responses["304"] = json!({"description": "not modified"});
    }
    if route.path.starts_with("/upload/") {
        let stored = json!({
            "type": "object",
            "required": ["sizeBytes"],
            "properties": {"sizeBytes": {"type": "integer", "minimum": 0}},
        });
        responses["308"] = json!({
            "description": "incomplete: send the rest (Range: bytes=0-<last stored>)",
            "content": {"application/json": {"schema": {"allOf": [envelope, stored]}}},
        });
    }
    responses
}

/// The content type of a handler that answers bytes: the backup tar, or a depot file.
fn bytes_type(path: &str) -> &'static str {
    if path == "/adm/v1/backup" {
        "application/x-tar"
    } else {
        "*/*"
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_matches(|c| c == '{' || c == '}')
                .split(':')
                .next()
                .unwrap_or(s)
                .replace(['.', '*'], "")
        })
        .collect();
    format!("{}_{}", method.to_ascii_lowercase(), words.join("_"))
}

fn tag(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty())
        .take(3)
        .filter(|s| !s.starts_with('{'))
        .collect::<Vec<_>>()
        .join("/")
}

fn error_codes() -> Vec<&'static str> {
    let mut codes: Vec<&str> = crate::codes::ALL
        .iter()
        .filter(|code| matches!(code.kind, crate::codes::Kind::Api(_)))
        .map(|code| code.code)
        .collect();
    codes.sort_unstable();
    codes.dedup();
    codes
}
