//! The database a node or a command works on: the `--database` flags, the
//! store picked from the URL scheme, the master key, the active catalogue and
//! an engine started on them. Shared by `serve` and every CLI command.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args as ClapArgs;
use tambah_engine::{catalog, Config, Engine, EngineRunner, MasterKey, SystemClock};
use tambah_store::Store;
use tambah_store_postgres::PgStore;
use tambah_store_sqlite::SqliteStore;

#[derive(ClapArgs, Debug, Clone)]
#[command(next_help_heading = "Database")]
pub struct DbArgs {
    /// Database: a SQLite file path (or sqlite://PATH), or postgres://USER@HOST/DB.
    #[arg(long, env = "TAMBAH_DATABASE", default_value = "./tambah.db", global = true)]
    pub database: String,
    /// Master key sealing API secrets, 32 bytes in base64. Default: read from
    /// (or created at) the file DATABASE.key.
    #[arg(long, env = "TAMBAH_MASTER_KEY", global = true, hide_env_values = true)]
    pub master_key: Option<String>,
    /// File holding the master key (created if absent). Default for SQLite:
    /// DATABASE.key. PostgreSQL nodes need TAMBAH_MASTER_KEY or this.
    #[arg(long, env = "TAMBAH_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Product catalogue file (JSON). Default: the built-in catalogue.
    #[arg(long, env = "TAMBAH_CATALOG", global = true)]
    pub catalog: Option<PathBuf>,
}

/// Which database a `--database` value names.
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Database {
    pub fn parse(url: &str) -> Result<Database, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("sqlite://") {
            return Ok(Database::Sqlite(PathBuf::from(rest)));
        }
        if url.contains("://") {
            return Err(format!("unsupported database URL {url:?}: use a SQLite path or postgres://…"));
        }
        Ok(Database::Sqlite(PathBuf::from(url)))
    }
}

/// An engine running on the opened database; `runner` stops its writer.
pub struct Opened {
    pub engine: Arc<Engine>,
    pub runner: EngineRunner,
}

/// Opens the database (creating and migrating it) and starts an engine on it.
pub async fn open(db: &DbArgs, config: Config) -> Result<Opened, String> {
    let (store, default_key_file) = open_store(&db.database)?;
    let master_key = master_key(db, default_key_file)?;
    let catalog = catalog::parse(&active_catalog(db, store.as_ref()).await?)?;
    let families = tambah_engine::families::Families::parse(tambah_engine::families::BUILT_IN)?;
    let (engine, runner) = Engine::start(store, catalog, families, master_key, config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    Ok(Opened { engine, runner })
}

/// The store the URL names, and where its master key lives by default (next
/// to a SQLite file; PostgreSQL nodes have no shared file).
fn open_store(url: &str) -> Result<(Arc<dyn Store>, Option<PathBuf>), String> {
    match Database::parse(url)? {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
            let mut key_path = path.into_os_string();
            key_path.push(".key");
            Ok((Arc::new(store), Some(PathBuf::from(key_path))))
        }
        Database::Postgres(url) => {
            let store = PgStore::open(&url).map_err(|e| format!("opening PostgreSQL: {e}"))?;
            Ok((Arc::new(store), None))
        }
    }
}

fn master_key(db: &DbArgs, default_key_file: Option<PathBuf>) -> Result<MasterKey, String> {
    match (&db.master_key, db.master_key_file.as_ref().or(default_key_file.as_ref())) {
        (Some(k), _) => MasterKey::from_base64(k),
        (None, Some(file)) => MasterKey::load_or_create(file),
        (None, None) => Err("PostgreSQL nodes must share one master key: set TAMBAH_MASTER_KEY (32 bytes, base64) \
                             or TAMBAH_MASTER_KEY_FILE"
            .into()),
    }
}

/// The catalogue JSON in force: an imported one (`tambah catalog import`)
/// wins over `--catalog`, which wins over the built-in one.
async fn active_catalog(db: &DbArgs, store: &dyn Store) -> Result<String, String> {
    let catalog_json = match &db.catalog {
        Some(file) => std::fs::read_to_string(file).map_err(|e| format!("reading {}: {e}", file.display()))?,
        None => catalog::BUILT_IN.to_owned(),
    };
    Ok(match store.latest_catalog(true).await.map_err(|e| e.to_string())? {
        Some((_, json)) => json,
        None => catalog_json,
    })
}

/// Runs `work` on an engine over the configured database, then stops the
/// engine (its writer commits what was queued) whatever `work` returned.
pub async fn with_engine<T, F, Fut>(db: &DbArgs, work: F) -> Result<T, String>
where
    F: FnOnce(Arc<Engine>) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let o = open(db, Config::default()).await?;
    let result = work(o.engine.clone()).await;
    o.runner.shutdown(&o.engine).await;
    result
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
