//! Connections to PostgreSQL, shared by the journal and the replay store: the schema name
//! checked once, `search_path` set on every connection, a lost connection opened again.

use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls};

/// Why no usable connection could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PostgresError {
    /// The schema name is not one this store will put into SQL.
    #[error("journal.schema {0:?}: use lowercase letters, digits and '_'")]
    Schema(String),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// A statement failed.
    #[error("{0}")]
    Database(String),
}

impl From<tokio_postgres::Error> for PostgresError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// The advisory lock key held while tables are created ("kopir" in ASCII).
const CREATE_LOCK: i64 = 0x6b6f706972;

/// Where to connect, and the schema every connection works in.
#[derive(Debug, Clone)]
pub struct Connector {
    url: String,
    schema: String,
}

/// One connection, opened on first use and again after it was lost.
pub type Slot = Mutex<Option<Client>>;

impl Connector {
    /// For `url` and `schema`, the schema's name checked (it is put into SQL as it is).
    pub fn new(url: &str, schema: &str) -> Result<Self, PostgresError> {
        let plain = !schema.is_empty()
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !plain {
            return Err(PostgresError::Schema(schema.to_string()));
        }
        Ok(Self {
            url: url.to_string(),
            schema: schema.to_string(),
        })
    }

    /// The schema's name.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A new connection, not yet in the schema (which may not exist yet).
    pub async fn open_bare(&self) -> Result<Client, PostgresError> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .map_err(|e| PostgresError::Connect(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "a PostgreSQL connection ended");
            }
        });
        Ok(client)
    }

    /// A new connection working in the schema.
    pub async fn open(&self) -> Result<Client, PostgresError> {
        let client = self.open_bare().await?;
        client
            .batch_execute(&format!("SET search_path TO {}", self.schema))
            .await?;
        Ok(client)
    }

    /// A new connection working in the schema, after creating the schema and running
    /// `statements` (each `CREATE ... IF NOT EXISTS`) under a session advisory lock, so replicas
    /// starting together do not race on the catalogue.
    pub async fn create(&self, statements: &[String]) -> Result<Client, PostgresError> {
        let client = self.open_bare().await?;
        let schema = &self.schema;
        client
            .batch_execute(&format!(
                "SELECT pg_advisory_lock({CREATE_LOCK}); CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"
            ))
            .await?;
        let created = async {
            for statement in statements {
                client.batch_execute(statement).await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        }
        .await;
        client
            .batch_execute(&format!("SELECT pg_advisory_unlock({CREATE_LOCK})"))
            .await?;
        created?;
        Ok(client)
    }

    /// The connection in `slot`, opened again if it was lost.
    pub async fn client<'a>(
        &self,
        slot: &'a Slot,
    ) -> Result<MutexGuard<'a, Option<Client>>, PostgresError> {
        let mut guard = slot.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = Some(self.open().await?);
        }
        Ok(guard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_schema_name_is_taken() {
        assert!(Connector::new("postgres://x", "kopir_1").is_ok());
        for bad in ["", "Kopir", "a;drop table x", "a b", "a-b"] {
            assert!(
                matches!(
                    Connector::new("postgres://x", bad),
                    Err(PostgresError::Schema(_))
                ),
                "{bad:?}"
            );
        }
    }
}
