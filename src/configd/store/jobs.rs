//! The job records: one JSON body per job, and each node's kept output.

use rusqlite::{params, OptionalExtension};

use super::{Store, StoreError};
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

    /// Rewrites a job's record (its state changed).
    pub async fn update_job(&self, job: &JobView) -> Result<(), StoreError> {
        let (body, id) = (body(job), job.id as i64);
        self.run(move |conn| {
            conn.prepare_cached("UPDATE jobs SET body = ?2 WHERE id = ?1")?
                .execute(params![id, body])?;
            Ok(())
        })
        .await
    }

    /// Rewrites a job's record and stores each node's output with it.
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
        self.run(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, body FROM jobs WHERE json_extract(body, '$.finished_ms') IS NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row?;
                out.push(job(id, &body).ok_or(id as u64));
            }
            Ok(out)
        })
        .await
    }

    /// The newest `limit` jobs, newest first.
    pub async fn recent_jobs(&self, limit: usize) -> Result<Vec<JobView>, StoreError> {
        self.run(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, body FROM jobs ORDER BY id DESC LIMIT ?1")?;
            let rows = stmt.query_map(params![limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row?;
                out.extend(job(id, &body));
            }
            Ok(out)
        })
        .await
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
            let mut stmt = conn.prepare_cached(
                "SELECT node, output, truncated FROM job_output WHERE job = ?1 ORDER BY node",
            )?;
            let outputs = stmt
                .query_map(params![id as i64], |r| {
                    Ok(NodeOutput {
                        node: r.get(0)?,
                        output: r.get(1)?,
                        truncated: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(JobDetail { job, outputs }))
        })
        .await
    }
}
