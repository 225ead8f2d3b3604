//! Dropping root once the capture is open (`picket live --user NAME`), as
//! `tcpdump -Z` and Suricata's `--user` do: a sensor that parses what an
//! attacker sends should not hold root while it does. Supplementary groups
//! go first, then the group, then the user; from then on no capability is
//! left (a non-root user keeps none across setuid) and root cannot be
//! taken back, which is checked.

use std::ffi::CString;

use crate::error::Error;

/// A user (and group) to run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

/// Look `user` up (and `group`, else the user's own group).
pub fn lookup(user: &str, group: Option<&str>) -> Result<RunAs, Error> {
    let bad = |what: &str| Error::Usage(format!("--user {user}: {what}"));
    let c_user = CString::new(user).map_err(|_| bad("not a user name"))?;
    // SAFETY: getpwnam returns a pointer to static storage or null; the
    // fields are copied out at once, before any other lookup.
    let (uid, mut gid) = unsafe {
        let pw = libc::getpwnam(c_user.as_ptr());
        if pw.is_null() {
            return Err(bad("no such user"));
        }
        ((*pw).pw_uid, (*pw).pw_gid)
    };
    if let Some(g) = group {
        let c_group =
            CString::new(g).map_err(|_| Error::Usage(format!("--group {g}: not a group name")))?;
        // SAFETY: as above, for getgrnam.
        gid = unsafe {
            let gr = libc::getgrnam(c_group.as_ptr());
            if gr.is_null() {
                return Err(Error::Usage(format!("--group {g}: no such group")));
            }
            (*gr).gr_gid
        };
    }
    Ok(RunAs {
        name: user.to_string(),
        uid,
        gid,
    })
}

/// Become `who`, for good.
pub fn drop_to(who: &RunAs) -> Result<(), Error> {
    let fail = |step: &str| {
        Error::System(format!(
            "cannot drop privileges to {} ({step}): {}",
            who.name,
            std::io::Error::last_os_error()
        ))
    };
    // SAFETY: plain system calls on integers and a one-element array.
    unsafe {
        if libc::setgroups(1, &who.gid) != 0 {
            return Err(fail("setgroups"));
        }
        if libc::setgid(who.gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(who.uid) != 0 {
            return Err(fail("setuid"));
        }
        if who.uid != 0 && (libc::setuid(0) == 0 || libc::geteuid() == 0) {
            return Err(Error::System(format!(
                "dropped to {} but root could be taken back",
                who.name
            )));
        }
    }
    Ok(())
}
