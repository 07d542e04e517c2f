//! The job records: one JSON body per job, and each node's kept output.

use rusqlite::{params, Connection, OptionalExtension};

use super::{select_all, Store, StoreError};
use crate::net::proto::{JobDetail, JobView, NodeOutput};

fn body(job: &JobView) -> String {
    serde_json::to_string(job).unwrap_or_default()
}

/// A stored body, with the row's ID (the first write of a job's row
/// predates its ID); `None` if it cannot be read.
fn job(id: i64, body: &str) -> Option<JobView> {
    let mut job = serde_json::from_str::<JobView>(body).ok()?;
    job.id = id as u64;
    Some(job)
}

/// The (id, body) rows `sql` selects.
fn bodies(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<(i64, String)>, rusqlite::Error> {
    select_all(conn, sql, params, |r| Ok((r.get(0)?, r.get(1)?)))
}

impl Store {
    /// Records a new job; its ID.
    pub async fn insert_job(&self, job: &JobView) -> Result<u64, StoreError> {
        let (body, started) = (body(job), job.started_ms);
        self.run(move |conn| {
            conn.prepare_cached("INSERT INTO jobs (started, body) VALUES (?1, ?2)")?
                .execute(params![started, body])?;
            Ok(conn.last_insert_rowid() as u64)
        })
        .await
    }

    /// Rewrites a job's record (its state changed) and stores each node's
    /// output given with it.
    pub async fn finish_job(
        &self,
        job: &JobView,
        outputs: Vec<NodeOutput>,
    ) -> Result<(), StoreError> {
        let (body, id) = (body(job), job.id as i64);
        self.run(move |conn| {
            conn.prepare_cached("UPDATE jobs SET body = ?2 WHERE id = ?1")?
                .execute(params![id, body])?;
            let mut stmt = conn.prepare_cached(
                "INSERT OR REPLACE INTO job_output (job, node, output, truncated) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for o in outputs {
                stmt.execute(params![id, o.node, o.output, o.truncated])?;
            }
            Ok(())
        })
        .await
    }

    /// Jobs with no end recorded, oldest first; `Err` names those that
    /// cannot be read.
    pub async fn unfinished_jobs(&self) -> Result<Vec<Result<JobView, u64>>, StoreError> {
        let sql = "SELECT id, body FROM jobs WHERE json_extract(body, '$.finished_ms') IS NULL ORDER BY id";
        let rows = self.run(move |conn| bodies(conn, sql, [])).await?;
        Ok(rows
            .iter()
            .map(|(id, b)| job(*id, b).ok_or(*id as u64))
            .collect())
    }

    /// The newest `limit` jobs, newest first.
    pub async fn recent_jobs(&self, limit: usize) -> Result<Vec<JobView>, StoreError> {
        let sql = "SELECT id, body FROM jobs ORDER BY id DESC LIMIT ?1";
        let rows = self
            .run(move |conn| bodies(conn, sql, [limit as i64]))
            .await?;
        Ok(rows.iter().filter_map(|(id, b)| job(*id, b)).collect())
    }

    /// One job and its stored output.
    pub async fn job_detail(&self, id: u64) -> Result<Option<JobDetail>, StoreError> {
        self.run(move |conn| {
            let stored: Option<String> = conn
                .prepare_cached("SELECT body FROM jobs WHERE id = ?1")?
                .query_row(params![id as i64], |r| r.get(0))
                .optional()?;
            let Some(job) = stored.and_then(|b| job(id as i64, &b)) else {
                return Ok(None);
            };
            let sql = "SELECT node, output, truncated FROM job_output WHERE job = ?1 ORDER BY node";
            let outputs = select_all(conn, sql, [id as i64], |r| {
                Ok(NodeOutput {
                    node: r.get(0)?,
                    output: r.get(1)?,
                    truncated: r.get(2)?,
                })
            })?;
            Ok(Some(JobDetail { job, outputs }))
        })
        .await
    }
}
