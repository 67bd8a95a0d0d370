//! `edgeprep firstboot`: the entry point of edgeprep-firstboot.service; the work is in
//! [`crate::firstboot`], which the wizard and tests can call too.

use std::io::Write;

use anyhow::Result;

use super::context::Context;

pub fn run(ctx: &Context, out: &mut dyn Write) -> Result<i32> {
    crate::firstboot::run(ctx, out)
}
