//! The API reference as one HTML page at `/reference`, rendered on the
//! server once from the OpenAPI description (`super::json()`): the
//! operations by tag with their authentication, parameters, bodies and
//! responses, then every component schema, each with an anchor and every
//! `$ref` a link. Self-contained: the styles are inline, nothing is loaded
//! from elsewhere and no script runs (the answer's Content-Security-Policy
//! says so too), so it reads the same on a machine with no internet, and
//! at phone width. Descriptions are plain text: `code` spans are the only
//! markup rendered; everything else is escaped.

use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::sync::{Arc, OnceLock};

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::AppState;

/// The page, rendered on first use.
pub(crate) fn html() -> &'static str {
    static HTML: OnceLock<String> = OnceLock::new();
    HTML.get_or_init(|| {
        let doc: Value = serde_json::from_str(super::json()).expect("the description is JSON");
        render(&doc)
    })
}

/// Nothing but the inline styles may load or run.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub(crate) fn router() -> Router<Arc<AppState>> {
    Router::new().route(
        "/reference",
        get(|| async {
            let headers = [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                // It changes only with the binary: a few minutes is fresh enough.
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::CONTENT_SECURITY_POLICY, CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ];
            (headers, html()).into_response()
        }),
    )
}

/// The HTTP methods a path item may hold an operation under.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

const CSS: &str = "\
:root{color-scheme:light dark;--fg:#1c2330;--muted:#5a6472;--bg:#fff;--line:#dde1e7;--code:#f2f4f7;--accent:#0a58a8;--req:#a8321c}
@media (prefers-color-scheme:dark){:root{--fg:#e3e6eb;--muted:#9ba4b1;--bg:#14171c;--line:#2d333c;--code:#1f242b;\
--accent:#7cb5f4;--req:#f0a08e}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);\
font:16px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,\"Noto Sans\",sans-serif}
main{max-width:62rem;margin:0 auto;padding:1rem 1.25rem 4rem}
h1{font-size:2rem;margin:.5rem 0 .25rem}
h2{font-size:1.5rem;margin:3rem 0 .5rem;padding-top:.75rem;border-top:2px solid var(--line)}
h3{font-size:1.15rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h4{font-size:.8rem;margin:1.25rem 0 .35rem;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
a{color:var(--accent)}
a.self{color:inherit;text-decoration:none}
a.self:hover{text-decoration:underline}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace;font-size:.88em}
code{background:var(--code);padding:.08em .3em;border-radius:3px;overflow-wrap:anywhere}
pre{background:var(--code);padding:.75rem;overflow-x:auto;border-radius:4px;line-height:1.4}
pre code{padding:0;background:none}
p{margin:.5rem 0}
.muted{color:var(--muted)}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;margin:.5rem 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.93rem}
th,td{text-align:left;vertical-align:top;padding:.4rem .6rem;border-bottom:1px solid var(--line)}
th{font-weight:600;white-space:nowrap;border-bottom-width:2px}
td:first-child{white-space:nowrap}
.req{display:block;font-size:.75rem;color:var(--req)}
.c{display:block;font-size:.82rem;color:var(--muted)}
.fmt{color:var(--muted)}
.m{display:inline-block;min-width:4.4em;padding:0 .35em;border-radius:3px;text-align:center;vertical-align:.1em;\
font:700 .75rem/1.7 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;color:#fff;background:#5b6470}
.m.get{background:#1d7446}.m.post{background:#0a58a8}.m.put{background:#8a5700}.m.patch{background:#6a4ba0}\
.m.delete{background:#a8321c}
section.op,section.schema,section.auth{padding:1.25rem 0 .5rem;border-top:1px solid var(--line)}
section.op h3 code,section.schema h3 code{background:none;padding:0;font-size:1em}
nav ul{list-style:none;padding-left:0;margin:.25rem 0}
nav ul ul{padding-left:1rem;margin-bottom:.75rem}
nav li{margin:.3rem 0}
nav li li a{text-decoration:none}
.index a{display:inline-block;margin:0 .75rem .25rem 0}
.top{font-size:.85rem;text-align:right}
.dep{color:var(--req);font-weight:600}
@media (max-width:40rem){body{font-size:15px}main{padding:.75rem .75rem 3rem}h1{font-size:1.6rem}\
th,td{padding:.35rem .45rem}.m{min-width:3.6em}}
";

/// Every anchor on the page, each given once.
#[derive(Default)]
struct Ids(HashSet<String>);

impl Ids {
    /// `base`, or `base-2`, `base-3`… when taken.
    fn unique(&mut self, base: &str) -> String {
        let mut id = base.to_owned();
        let mut n = 1;
        while !self.0.insert(id.clone()) {
            n += 1;
            id = format!("{base}-{n}");
        }
        id
    }
}

/// An operation and its anchor, filed under its first tag.
struct Op<'a> {
    method: &'a str,
    path: &'a str,
    tag: &'a str,
    id: String,
    op: &'a Value,
    /// The path item's parameters, shared by its operations.
    shared: &'a Value,
}

struct Tag<'a> {
    name: &'a str,
    description: &'a str,
    id: String,
}

/// The description with every anchor decided before anything is written.
struct Page<'a> {
    doc: &'a Value,
    tags: Vec<Tag<'a>>,
    ops: Vec<Op<'a>>,
    /// Component schema name → anchor.
    schemas: HashMap<&'a str, String>,
    /// Security scheme name → anchor.
    schemes: HashMap<&'a str, String>,
}

fn render(doc: &Value) -> String {
    let page = Page::new(doc);
    let mut out = String::with_capacity(160 * 1024);
    page.write(&mut out).expect("writing to a String cannot fail");
    out
}

/// An object's members in order (none for anything else).
fn entries(v: &Value) -> impl Iterator<Item = (&str, &Value)> {
    v.as_object().into_iter().flatten().map(|(k, v)| (k.as_str(), v))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

impl<'a> Page<'a> {
    fn new(doc: &'a Value) -> Page<'a> {
        let mut ids = Ids::default();
        for fixed in ["contents", "authentication", "schemas"] {
            ids.unique(fixed);
        }
        let mut ops = Vec::new();
        for (path, item) in entries(&doc["paths"]) {
            for (method, op) in entries(item).filter(|(m, _)| METHODS.contains(m)) {
                let tag = op["tags"][0].as_str().unwrap_or("other");
                let id = ids.unique(&format!("op-{method}-{}", slug(path)));
                ops.push(Op { method, path, tag, id, op, shared: &item["parameters"] });
            }
        }
        let declared: Vec<&Value> = doc["tags"].as_array().into_iter().flatten().collect();
        let mut names: Vec<&str> = declared.iter().filter_map(|t| t["name"].as_str()).collect();
        for op in &ops {
            if !names.contains(&op.tag) {
                names.push(op.tag);
            }
        }
        names.retain(|name| ops.iter().any(|op| op.tag == *name));
        let tags = names
            .into_iter()
            .map(|name| {
                let description = declared.iter().find(|t| t["name"] == name).map_or("", |t| text(&t["description"]));
                Tag { name, description, id: ids.unique(&format!("tag-{}", slug(name))) }
            })
            .collect();
        let mut anchors = |key: &str, prefix: &str| -> HashMap<&'a str, String> {
            let found = entries(&doc["components"][key]);
            found.map(|(name, _)| (name, ids.unique(&format!("{prefix}-{}", slug(name))))).collect()
        };
        let schemas = anchors("schemas", "schema");
        let schemes = anchors("securitySchemes", "auth");
        Page { doc, tags, ops, schemas, schemes }
    }

    fn write(&self, out: &mut String) -> fmt::Result {
        let title = esc(text(&self.doc["info"]["title"]));
        write!(
            out,
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <meta name=\"color-scheme\" content=\"light dark\">\
             <title>{title} API reference</title><style>\n{CSS}</style></head>\n<body><main>\n"
        )?;
        self.intro(out)?;
        self.contents(out)?;
        self.authentication(out)?;
        for tag in &self.tags {
            writeln!(out, "<h2 id=\"{}\">{}</h2>{}", tag.id, esc(tag.name), paras(tag.description))?;
            for op in self.ops.iter().filter(|op| op.tag == tag.name) {
                self.operation(out, op)?;
            }
        }
        self.schemas_section(out)?;
        out.push_str("</main></body></html>\n");
        Ok(())
    }

    fn intro(&self, out: &mut String) -> fmt::Result {
        let info = &self.doc["info"];
        write!(out, "<header><h1>{} API reference</h1><p class=\"muted\">", esc(text(&info["title"])))?;
        if let Some(version) = info["version"].as_str() {
            write!(out, "Version {} · ", esc(version))?;
        }
        if let Some(license) = info["license"]["name"].as_str() {
            write!(out, "License {} · ", esc(license))?;
        }
        let openapi = esc(text(&self.doc["openapi"]));
        writeln!(out, "Rendered from <a href=\"openapi.json\">openapi.json</a> (OpenAPI {openapi})</p>")?;
        writeln!(out, "{}</header>", paras(text(&info["description"])))
    }

    fn contents(&self, out: &mut String) -> fmt::Result {
        out.push_str("<nav id=\"contents\" aria-label=\"Contents\"><h2>Contents</h2><ul>\n");
        if !self.schemes.is_empty() {
            out.push_str("<li><a href=\"#authentication\">Authentication</a></li>\n");
        }
        for tag in &self.tags {
            write!(out, "<li><a href=\"#{}\">{}</a>", tag.id, esc(tag.name))?;
            if !tag.description.is_empty() {
                write!(out, " <span class=\"muted\">— {}</span>", inline_md(tag.description))?;
            }
            out.push_str("<ul>\n");
            for op in self.ops.iter().filter(|op| op.tag == tag.name) {
                write!(out, "<li><a href=\"#{}\">{}</a>", op.id, method_and_path(op))?;
                let summary = first_sentence(text(&op.op["summary"]));
                if !summary.is_empty() {
                    write!(out, " <span class=\"muted\">{}</span>", inline_md(&summary))?;
                }
                out.push_str("</li>\n");
            }
            out.push_str("</ul></li>\n");
        }
        if !self.schemas.is_empty() {
            out.push_str("<li><a href=\"#schemas\">Schemas</a></li>\n");
        }
        out.push_str("</ul></nav>\n");
        Ok(())
    }

    fn authentication(&self, out: &mut String) -> fmt::Result {
        if self.schemes.is_empty() {
            return Ok(());
        }
        out.push_str("<h2 id=\"authentication\">Authentication</h2>\n");
        for (name, scheme) in entries(&self.doc["components"]["securitySchemes"]) {
            let id = &self.schemes[name];
            write!(out, "<section class=\"auth\" id=\"{id}\"><h3><a class=\"self\" href=\"#{id}\">")?;
            write!(out, "{}</a> <span class=\"muted\">(<code>{}</code>)</span></h3>", scheme_label(scheme), esc(name))?;
            if let Some(format) = scheme["bearerFormat"].as_str() {
                write!(out, "<p>Format: {}</p>", esc(format))?;
            }
            writeln!(out, "{}</section>", paras(text(&scheme["description"])))?;
        }
        Ok(())
    }

    fn operation(&self, out: &mut String, op: &Op<'_>) -> fmt::Result {
        let id = &op.id;
        write!(out, "<section class=\"op\" id=\"{id}\"><h3><a class=\"self\" href=\"#{id}\">")?;
        writeln!(out, "{}</a></h3>", method_and_path(op))?;
        if op.op["deprecated"] == true {
            out.push_str("<p class=\"dep\">Deprecated.</p>");
        }
        out.push_str(&paras(text(&op.op["summary"])));
        out.push_str(&paras(text(&op.op["description"])));
        writeln!(out, "<p><strong>Authentication:</strong> {}</p>", self.security(op.op))?;
        self.parameters(out, op)?;
        self.request_body(out, &op.op["requestBody"])?;
        self.responses(out, &op.op["responses"])?;
        out.push_str("<p class=\"top\"><a href=\"#contents\">Contents ↑</a></p></section>\n");
        Ok(())
    }

    /// Who may call: the alternatives (any one suffices), each the schemes
    /// it needs together.
    fn security(&self, op: &Value) -> String {
        let requirements = op.get("security").or_else(|| self.doc.get("security"));
        let Some(requirements) = requirements.and_then(Value::as_array).filter(|r| !r.is_empty()) else {
            return "none".to_owned();
        };
        let alternatives: Vec<String> = requirements
            .iter()
            .map(|requirement| {
                let schemes: Vec<String> = entries(requirement).map(|(name, _)| self.scheme_link(name)).collect();
                if schemes.is_empty() {
                    "none".to_owned()
                } else {
                    schemes.join(" and ")
                }
            })
            .collect();
        match alternatives.len() {
            1 => alternatives.concat(),
            _ => format!("either {}", alternatives.join(" or ")),
        }
    }

    fn scheme_link(&self, name: &str) -> String {
        match self.schemes.get(name) {
            Some(id) => {
                let scheme = &self.doc["components"]["securitySchemes"][name];
                format!("<a href=\"#{id}\">{}</a>", scheme_label(scheme))
            }
            None => format!("<code>{}</code>", esc(name)),
        }
    }

    /// Follows a `$ref` to a parameter, body or response (not to a schema:
    /// those are shown as links).
    fn resolve<'v>(&'v self, mut v: &'v Value) -> &'v Value {
        for _ in 0..8 {
            match v["$ref"].as_str().and_then(|r| r.strip_prefix('#')).and_then(|p| self.doc.pointer(p)) {
                Some(target) => v = target,
                None => break,
            }
        }
        v
    }

    fn parameters(&self, out: &mut String, op: &Op<'_>) -> fmt::Result {
        let all: Vec<&Value> = [op.shared, &op.op["parameters"]]
            .into_iter()
            .filter_map(Value::as_array)
            .flatten()
            .map(|p| self.resolve(p))
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        out.push_str(
            "<h4>Parameters</h4><div class=\"scroll\"><table><thead><tr><th>Name</th><th>In</th><th>Type</th>\
             <th>Description</th></tr></thead><tbody>\n",
        );
        for p in all {
            let schema = &p["schema"];
            write!(out, "<tr><td><code>{}</code>{}</td>", esc(text(&p["name"])), required_mark(p["required"] == true))?;
            write!(out, "<td>{}</td><td>{}{}</td>", esc(text(&p["in"])), self.type_html(schema), constraints(schema))?;
            let deprecated = if p["deprecated"] == true { "<strong>Deprecated.</strong> " } else { "" };
            writeln!(out, "<td>{deprecated}{}</td></tr>", inline_md(text(&p["description"])))?;
        }
        out.push_str("</tbody></table></div>\n");
        Ok(())
    }

    fn request_body(&self, out: &mut String, body: &Value) -> fmt::Result {
        let body = self.resolve(body);
        if !body.is_object() {
            return Ok(());
        }
        let needed = if body["required"] == true { "required" } else { "optional" };
        writeln!(out, "<h4>Request body ({needed})</h4>{}", paras(text(&body["description"])))?;
        for (content_type, media) in entries(&body["content"]) {
            self.schema_block(out, &media["schema"], &format!("<code>{}</code> ", esc(content_type)))?;
            example(out, media)?;
        }
        Ok(())
    }

    fn responses(&self, out: &mut String, responses: &Value) -> fmt::Result {
        if entries(responses).next().is_none() {
            return Ok(());
        }
        out.push_str(
            "<h4>Responses</h4><div class=\"scroll\"><table><thead><tr><th>Status</th><th>Description</th>\
             <th>Body</th></tr></thead><tbody>\n",
        );
        for (status, response) in entries(responses) {
            let response = self.resolve(response);
            write!(out, "<tr><td><code>{}</code></td><td>{}", esc(status), inline_md(text(&response["description"])))?;
            for (name, h) in entries(&response["headers"]).map(|(n, h)| (n, self.resolve(h))) {
                let (kind, about) = (self.type_html(&h["schema"]), inline_md(text(&h["description"])));
                write!(out, "<span class=\"c\">Header <code>{}</code>: {kind} {about}</span>", esc(name))?;
            }
            out.push_str("</td><td>");
            let bodies: Vec<String> = entries(&response["content"])
                .map(|(ct, media)| format!("{} <span class=\"c\">{}</span>", self.type_html(&media["schema"]), esc(ct)))
                .collect();
            out.push_str(if bodies.is_empty() { "—" } else { "" });
            out.push_str(&bodies.join(""));
            out.push_str("</td></tr>\n");
        }
        out.push_str("</tbody></table></div>\n");
        Ok(())
    }

    fn schemas_section(&self, out: &mut String) -> fmt::Result {
        if self.schemas.is_empty() {
            return Ok(());
        }
        out.push_str("<h2 id=\"schemas\">Schemas</h2>\n<p class=\"index\">");
        let all: Vec<(&str, &Value)> = entries(&self.doc["components"]["schemas"]).collect();
        for (name, _) in &all {
            write!(out, "<a href=\"#{}\">{}</a> ", self.schemas[name], esc(name))?;
        }
        out.push_str("</p>\n");
        for (name, schema) in all {
            let id = &self.schemas[name];
            write!(out, "<section class=\"schema\" id=\"{id}\"><h3><a class=\"self\" href=\"#{id}\">")?;
            writeln!(out, "<code>{}</code></a></h3>{}", esc(name), paras(text(&schema["description"])))?;
            self.schema_block(out, schema, "")?;
            out.push_str("<p class=\"top\"><a href=\"#contents\">Contents ↑</a></p></section>\n");
        }
        Ok(())
    }

    /// A schema's type line (after `lead`), then the properties of an inline
    /// object (or of each inline variant of a `oneOf`/`anyOf`/`allOf`).
    fn schema_block(&self, out: &mut String, schema: &Value, lead: &str) -> fmt::Result {
        let combined = [("oneOf", "One of"), ("anyOf", "Any of"), ("allOf", "All of")];
        let word = combined.iter().find(|(key, _)| schema.get(key).is_some()).map_or("", |(_, word)| word);
        let word = if word.is_empty() { String::new() } else { format!("{word}: ") };
        writeln!(out, "<p>{lead}{word}{}{}</p>", self.type_html(schema), constraints(schema))?;
        for (key, word) in combined {
            let Some(variants) = schema[key].as_array() else { continue };
            for (i, variant) in variants.iter().enumerate().filter(|(_, v)| has_properties(v)) {
                writeln!(out, "<p class=\"muted\">{word}, variant {}:</p>", i + 1)?;
                self.properties_table(out, variant)?;
            }
        }
        if has_properties(schema) {
            self.properties_table(out, schema)?;
        }
        Ok(())
    }

    fn properties_table(&self, out: &mut String, schema: &Value) -> fmt::Result {
        out.push_str(
            "<div class=\"scroll\"><table><thead><tr><th>Property</th><th>Type</th><th>Description</th></tr>\
             </thead><tbody>\n",
        );
        self.property_rows(out, schema, "")?;
        if let Some(extra @ Value::Object(_)) = schema.get("additionalProperties") {
            if schema["properties"].as_object().is_some_and(|p| !p.is_empty()) {
                let kind = self.type_html(extra);
                writeln!(out, "<tr><td><em>other keys</em></td><td>{kind}</td><td></td></tr>")?;
            }
        }
        out.push_str("</tbody></table></div>\n");
        Ok(())
    }

    /// One row a property, an inline object's own properties under it as
    /// `parent.child` (`parent[].child` for an array of them).
    fn property_rows(&self, out: &mut String, schema: &Value, prefix: &str) -> fmt::Result {
        let required: Vec<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (name, p) in entries(&schema["properties"]) {
            let full = format!("{prefix}{name}");
            write!(out, "<tr><td><code>{}</code>{}</td>", esc(&full), required_mark(required.contains(&name)))?;
            let about = inline_md(text(&p["description"]));
            writeln!(out, "<td>{}{}</td><td>{about}</td></tr>", self.type_html(p), constraints(p))?;
            if has_properties(p) {
                self.property_rows(out, p, &format!("{full}."))?;
            } else if has_properties(&p["items"]) {
                self.property_rows(out, &p["items"], &format!("{full}[]."))?;
            }
        }
        Ok(())
    }

    /// A schema's type in a few words: a `$ref` as a link to the schema,
    /// alternatives joined by `|` (null last), arrays as `array of …`.
    fn type_html(&self, s: &Value) -> String {
        if let Some(r) = s["$ref"].as_str() {
            return self.ref_link(r);
        }
        for (key, sep) in [("oneOf", " | "), ("anyOf", " | "), ("allOf", " &amp; ")] {
            if let Some(parts) = s[key].as_array() {
                let mut parts: Vec<(bool, String)> =
                    parts.iter().map(|p| (p["type"] == "null", self.type_html(p))).collect();
                parts.sort_by_key(|(null, _)| *null);
                return parts.into_iter().map(|(_, html)| html).collect::<Vec<_>>().join(sep);
            }
        }
        let mut types: Vec<&str> = match &s["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        types.sort_by_key(|t| *t == "null");
        let shown: Vec<String> = types.into_iter().map(|t| self.one_type(t, s)).collect();
        if !shown.is_empty() {
            shown.join(" | ")
        } else if s.get("const").is_some() {
            "constant".to_owned()
        } else {
            "any".to_owned()
        }
    }

    fn one_type(&self, t: &str, s: &Value) -> String {
        match t {
            "array" => format!("array of {}", s.get("items").map_or_else(|| "any".to_owned(), |i| self.type_html(i))),
            "object" => match s.get("additionalProperties") {
                Some(values @ Value::Object(_)) if !has_properties(s) => {
                    format!("object, values: {}", self.type_html(values))
                }
                _ => "object".to_owned(),
            },
            "null" => "null".to_owned(),
            _ => match s["format"].as_str() {
                Some(format) => format!("{} <span class=\"fmt\">({})</span>", esc(t), esc(format)),
                None => esc(t),
            },
        }
    }

    fn ref_link(&self, reference: &str) -> String {
        let name = reference.strip_prefix("#/components/schemas/").map(|n| n.replace("~1", "/").replace("~0", "~"));
        match name.as_deref().and_then(|n| Some((n, self.schemas.get(n)?))) {
            Some((name, id)) => format!("<a href=\"#{id}\">{}</a>", esc(name)),
            None => format!("<code>{}</code>", esc(reference)),
        }
    }
}

/// `GET /v2/topup` as a method badge and the path.
fn method_and_path(op: &Op<'_>) -> String {
    let method = esc(op.method);
    format!("<span class=\"m {method}\">{}</span> <code>{}</code>", method.to_ascii_uppercase(), esc(op.path))
}

fn required_mark(yes: bool) -> &'static str {
    if yes {
        "<span class=\"req\">required</span>"
    } else {
        ""
    }
}

fn has_properties(s: &Value) -> bool {
    s["properties"].as_object().is_some_and(|p| !p.is_empty())
}

/// A security scheme in words.
fn scheme_label(scheme: &Value) -> String {
    match text(&scheme["type"]) {
        "apiKey" => format!("API key in {} <code>{}</code>", esc(text(&scheme["in"])), esc(text(&scheme["name"]))),
        "http" if scheme["scheme"].as_str().is_some_and(|s| s.eq_ignore_ascii_case("bearer")) => {
            "Bearer token".to_owned()
        }
        "http" => format!("HTTP {}", esc(text(&scheme["scheme"]))),
        "oauth2" => "OAuth 2".to_owned(),
        "openIdConnect" => "OpenID Connect".to_owned(),
        "mutualTLS" => "Mutual TLS".to_owned(),
        other => esc(other),
    }
}

/// The limits a schema sets (enum, bounds, lengths, pattern, default,
/// example), one small line; empty when none.
fn constraints(s: &Value) -> String {
    let value = |v: &Value| format!("<code>{}</code>", esc(&v.as_str().map_or_else(|| v.to_string(), str::to_owned)));
    let mut found: Vec<String> = Vec::new();
    if let Some(values) = s["enum"].as_array() {
        found.push(format!("one of {}", values.iter().map(value).collect::<Vec<_>>().join(", ")));
    }
    let bounds = [
        ("const", "always"),
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("pattern", "pattern"),
        ("default", "default"),
        ("example", "example"),
    ];
    for (key, word) in bounds {
        if let Some(v) = s.get(key) {
            found.push(format!("{} {}", esc(word), value(v)));
        }
    }
    for (key, word) in [("readOnly", "read-only"), ("writeOnly", "write-only"), ("deprecated", "deprecated")] {
        if s[key] == true {
            found.push(word.to_owned());
        }
    }
    if s["type"] == "array" && s["items"].get("$ref").is_none() {
        let inner = constraints(&s["items"]);
        if !inner.is_empty() {
            found.push(format!("items: {inner}"));
        }
    }
    if found.is_empty() {
        String::new()
    } else {
        format!("<span class=\"c\">{}</span>", found.join("; "))
    }
}

/// A media type's example(s) as pretty JSON.
fn example(out: &mut String, media: &Value) -> fmt::Result {
    let named = entries(&media["examples"]).map(|(_, e)| &e["value"]);
    for ex in media.get("example").into_iter().chain(named).filter(|e| !e.is_null()) {
        let pretty = serde_json::to_string_pretty(ex).unwrap_or_default();
        writeln!(out, "<p class=\"muted\">Example:</p><pre><code>{}</code></pre>", esc(&pretty))?;
    }
    Ok(())
}

/// An anchor's text: ASCII letters, digits and `_`, every other run as `-`.
fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Text for HTML, in an element or a quoted attribute: the five characters
/// that could start markup or end the value, as entities.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A description's text escaped, with `code` spans as `<code>` (the only
/// markup descriptions use); a backtick left unpaired stays a backtick.
fn inline_md(text: &str) -> String {
    let parts: Vec<&str> = text.split('`').collect();
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in parts.iter().enumerate() {
        match (i % 2 == 1, i + 1 < parts.len()) {
            (false, _) => out.push_str(&esc(part)),
            (true, true) => {
                let _ = write!(out, "<code>{}</code>", esc(part));
            }
            (true, false) => {
                out.push('`');
                out.push_str(&esc(part));
            }
        }
    }
    out
}

/// Up to the first full stop followed by a space (outside `code`), the
/// lines joined.
fn first_sentence(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut in_code = false;
    for (i, c) in text.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '.' if !in_code && text[i + 1..].starts_with(' ') => return text[..=i].to_owned(),
            _ => {}
        }
    }
    text
}

/// Paragraphs (split at blank lines), each through `inline_md`.
fn paras(text: &str) -> String {
    let paragraphs = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty());
    paragraphs.map(|p| format!("<p>{}</p>\n", inline_md(p))).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::{json, Value};

    use super::{esc, first_sentence, html, inline_md, render, METHODS};

    /// Every `attr="…"` value on the page.
    fn attributes<'h>(page: &'h str, attr: &str) -> Vec<&'h str> {
        let needle = format!(" {attr}=\"");
        let values = page.match_indices(&needle).map(|(i, _)| &page[i + needle.len()..]);
        values.map(|rest| &rest[..rest.find('"').expect("a closing quote")]).collect()
    }

    /// (anchor, heading) of every `<section class="{class}">`.
    fn sections<'h>(page: &'h str, class: &str) -> Vec<(&'h str, &'h str)> {
        let opening = format!("<section class=\"{class}\" id=\"");
        let found = page.split(opening.as_str()).skip(1).map(|rest| rest.split_once('"').expect("a closing quote"));
        found.map(|(id, rest)| (id, &rest[..rest.find("</h3>").expect("a heading")])).collect()
    }

    /// Anchors are unique and every `href="#…"` names one.
    fn links_resolve(page: &str) {
        let ids = attributes(page, "id");
        let unique: HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "an anchor is given twice");
        for target in attributes(page, "href").into_iter().filter_map(|h| h.strip_prefix('#')) {
            assert!(unique.contains(target), "href=\"#{target}\" points nowhere");
        }
    }

    /// Every element closed, in order (void ones excepted), and no block
    /// inside a `<p>` (which a browser would close early).
    fn well_formed(page: &str) {
        const VOID: &[&str] = &["meta", "br", "hr", "img", "input", "link", "wbr"];
        const BLOCK: &[&str] = &["p", "div", "table", "ul", "ol", "pre", "section", "nav", "header", "h2", "h3", "h4"];
        let mut open: Vec<&str> = Vec::new();
        let mut rest = page;
        while let Some(start) = rest.find('<') {
            let tag = &rest[start + 1..];
            let end = tag.find('>').expect("a tag ends");
            let (inner, after) = (&tag[..end], &tag[end + 1..]);
            rest = after;
            if inner.starts_with('!') {
                continue;
            }
            if let Some(name) = inner.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "</{name}> closes something else, before: {:.80}", after);
                continue;
            }
            let name = inner.split([' ', '/']).next().unwrap_or("");
            assert!(!(open.last() == Some(&"p") && BLOCK.contains(&name)), "<{name}> inside <p>: {:.80}", after);
            if !VOID.contains(&name) {
                open.push(name);
            }
        }
        assert!(open.is_empty(), "left open: {open:?}");
    }

    #[test]
    fn every_operation_has_its_method_path_and_an_anchor_in_the_contents() {
        let doc: Value = serde_json::from_str(super::super::json()).unwrap();
        let page = html();
        let found = sections(page, "op");
        let mut expected = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys().filter(|m| METHODS.contains(&m.as_str())) {
                expected += 1;
                let heading = format!(">{}</span> <code>{}</code>", method.to_uppercase(), esc(path));
                let hit = found.iter().find(|(_, h)| h.contains(&heading));
                let (id, _) = hit.unwrap_or_else(|| panic!("{method} {path} has no section"));
                assert!(page.contains(&format!("<a href=\"#{id}\">")), "{method} {path} is not in the contents");
            }
        }
        assert!(expected >= 18, "{expected} operations");
        assert_eq!(found.len(), expected);
    }

    #[test]
    fn every_component_schema_and_security_scheme_has_an_anchor() {
        let doc: Value = serde_json::from_str(super::super::json()).unwrap();
        let page = html();
        let found = sections(page, "schema");
        let names = doc["components"]["schemas"].as_object().unwrap();
        assert_eq!(found.len(), names.len());
        for name in names.keys() {
            let heading = format!("<code>{}</code>", esc(name));
            assert!(found.iter().any(|(_, h)| h.contains(&heading)), "{name} has no section");
        }
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        for name in schemes.keys() {
            assert!(sections(page, "auth").iter().any(|(_, h)| h.contains(&format!("<code>{name}</code>"))), "{name}");
        }
    }

    #[test]
    fn the_page_is_well_formed_and_its_links_resolve() {
        let page = html();
        assert!(page.starts_with("<!doctype html>"));
        assert!(page.contains("<meta name=\"viewport\""));
        well_formed(page);
        links_resolve(page);
    }

    /// No script, no external asset: every link is an anchor on the page
    /// or the description beside it.
    #[test]
    fn nothing_is_loaded_from_elsewhere_and_nothing_runs() {
        let page = html();
        for banned in ["<script", "<link", "<img", "<iframe", "<object", "<embed", " src=", "@import", "url("] {
            assert!(!page.contains(banned), "{banned}");
        }
        for href in attributes(page, "href") {
            assert!(href.starts_with('#') || href == "openapi.json", "href=\"{href}\"");
        }
        let style = &page[page.find("<style>").unwrap()..page.find("</style>").unwrap()];
        assert!(!style.contains("http:") && !style.contains("https:") && !style.contains("//"));
    }

    #[test]
    fn text_is_escaped_and_code_spans_are_the_only_markup() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(inline_md("use `<b>` & <i>"), "use <code>&lt;b&gt;</code> &amp; &lt;i&gt;");
        assert_eq!(inline_md("`x` and `y"), "<code>x</code> and `y");
        assert_eq!(inline_md("no code"), "no code");
        assert_eq!(first_sentence("Ends `a. b` here.\nNot this. Nor this."), "Ends `a. b` here.");
    }

    /// Markup in any text is shown, not run; nullable types, inline
    /// objects, enums and alternatives are shown; a `$ref` to no schema is
    /// text, not a dangling link.
    #[test]
    fn a_hostile_or_odd_description_renders_safely() {
        let object = json!({"type": "object", "required": ["n"], "properties": {
            "n": {"type": ["integer", "null"], "minimum": 1},
            "o": {"type": "object", "properties": {"p": {"type": "string", "enum": ["<x>"]}}},
        }});
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "t<script>", "version": "1", "description": "<script>alert(1)</script> `<b>`"},
            "paths": {"/a/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {"summary": "x\"><script>", "responses": {"200": {"description": "<b>ok</b>",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}}}}},
                "post": {"tags": ["w"], "security": [{"k": []}, {}],
                    "requestBody": {"content": {"application/json": {"schema": object}}}, "responses": {}},
            }},
            "components": {
                "schemas": {"S": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/S"}],
                    "description": "<img src=x onerror=alert(1)>"}},
                "securitySchemes": {"k": {"type": "apiKey", "in": "header", "name": "K"}},
            },
        });
        let page = render(&doc);
        for banned in ["<script", "<img", "<x>", "<b>"] {
            assert!(!page.contains(banned), "{banned}");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; <code>&lt;b&gt;</code>"));
        assert!(page.contains("<code>#/components/schemas/Missing</code>"));
        assert!(page.contains("<a href=\"#schema-S\">S</a> | null"));
        assert!(page.contains("<code>o.p</code>") && page.contains("integer | null"));
        assert!(page.contains("either <a href=\"#auth-k\">API key in header <code>K</code></a> or none"));
        well_formed(&page);
        links_resolve(&page);
    }
}
