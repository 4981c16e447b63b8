//! The local user's login name, looked up through NSS (`getpwuid_r`) like OpenSSH does, so
//! users from LDAP or sssd resolve, not only those in `/etc/passwd`. A leaf: the ssh_config
//! resolver (`%u`, the default login) and the audit log (who ran tai) both read it here.

/// The login name of `uid` from the system's user database through NSS (`getpwuid_r`), so
/// LDAP and sssd users resolve as they do for ssh; `None` when the uid has no entry.
pub fn name_of(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: passwd is plain data; getpwuid_r writes only into `pwd`, `found` and the
        // `buf.len()` bytes of `buf`, which outlive every pointer read from `pwd` below.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        match rc {
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 2, 0),
            libc::EINTR => {}
            0 if !found.is_null() && !pwd.pw_name.is_null() => {
                // SAFETY: on success pw_name is a NUL-terminated string inside `buf`.
                let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
                return name
                    .to_str()
                    .ok()
                    .filter(|n| !n.is_empty())
                    .map(String::from);
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_of_the_current_uid_is_what_nss_says() {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let expected = String::from_utf8(id.stdout).unwrap().trim().to_string();
        assert_eq!(name_of(uid), Some(expected));
        assert_eq!(name_of(4_000_000_123), None);
    }
}
