//! Locks that outlive a panicking holder: the data behind configd's and
//! noded's mutexes stays consistent between statements, so a poisoned
//! lock is taken as it is rather than taking the daemon down.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
