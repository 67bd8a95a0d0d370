#!/usr/bin/python
# -*- coding: utf-8 -*-
"""Run edgeprep on the target and turn its JSON into Ansible's changed/failed/diff/facts.

edgeprep already masks every secret in what it prints (plans, diffs, failed commands' output),
and this module only ever receives the answers file's path, never its contents, so its result
can be shown as it is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: edgeprep
short_description: Prepare an Azure IoT Edge 1.4 device for production with edgeprep
description:
  - Runs C(edgeprep apply --answers FILE --yes --json) and reports C(changed) from its JSON,
    the backup set id as the fact C(edgeprep_backup_id), and edgeprep's warnings.
  - In check mode runs C(edgeprep plan --json) instead, which writes nothing; C(changed) says
    whether the plan is not empty.
  - With C(--diff) shows the plan's unified diffs, secrets already masked by edgeprep.
  - With I(command=rollback) runs C(edgeprep rollback --yes --json [ID]).
options:
  binary:
    description: Path of the edgeprep executable on the target.
    type: path
    default: /usr/local/bin/edgeprep
  command:
    description: C(apply) the answers file, or C(rollback) a backup set.
    type: str
    choices: [apply, rollback]
    default: apply
  answers:
    description: The answers file on the target (required for I(command=apply)).
    type: path
  backup_id:
    description:
      - The backup set to restore with I(command=rollback).
      - Default, as for edgeprep itself, finish an interrupted rollback, else undo the latest
        apply not rolled back yet.
    type: str
  root:
    description: edgeprep's C(--root); anything but C(/) is for offline images and tests.
    type: path
    default: /
  extra_args:
    description: Global arguments put before the subcommand, e.g. C(--run-commands).
    type: list
    elements: str
    default: []
  env:
    description:
      - Environment variables for edgeprep (and so the commands it runs), e.g. a C(PATH).
      - Set here rather than with the task's C(environment), which would apply to the module's
        own interpreter too.
    type: dict
    default: {}
author: edgeprep
"""

RETURN = r"""
backup:
  description: The backup set of this apply (undo with command=rollback), null when nothing changed.
  type: str
  returned: success
files:
  description: Device paths written (apply) or restored (rollback).
  type: list
  returned: success
commands:
  description: Commands edgeprep ran or, under a root other than /, listed to run.
  type: list
  returned: success
exit_code:
  description: edgeprep's exit code.
  type: int
  returned: always
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

# What each of edgeprep's exit codes means for the device, said in a failed task's message.
EXIT_MEANING = {
    1: "a step failed; every file was restored (exit 1)",
    2: "bad answers or input; nothing was written (exit 2)",
    3: "a step failed and restoring the files failed too (exit 3): the originals are in the "
       "backup set named in the message",
}


def parse_json(text):
    """edgeprep's --json output, or None when it printed none (an error before any JSON)."""
    text = text.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def edgeprep_message(rc, out, err, value):
    """edgeprep's own words for a failure, then what its exit code means for the device."""
    parts = []
    if value and value.get("error"):
        parts.append(value["error"])
    elif value and value.get("failed"):
        line = "`%s` failed" % value["failed"]
        if value.get("exit_code") is not None:
            line += " with exit code %s" % value["exit_code"]
        if value.get("output"):
            line += ": " + value["output"].strip()
        parts.append(line)
    # edgeprep repeats a JSON "error" on stderr as "edgeprep: ERROR"; exit 3 adds its own
    # message there naming the backup set.
    stderr = err.strip()
    if stderr and not any(part in stderr for part in parts):
        parts.append(stderr[len("edgeprep: "):] if stderr.startswith("edgeprep: ") else stderr)
    if not parts and out.strip():
        parts.append(out.strip())
    meaning = EXIT_MEANING.get(rc, "edgeprep exited with code %s" % rc)
    if value and value.get("backup") and rc in (1, 3):
        meaning += "; backup set %s" % value["backup"]
    return "edgeprep: %s [%s]" % ("\n".join(parts) or "no message", meaning)


class Runner(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.base = [params["binary"], "--root", params["root"]] + list(params["extra_args"])

    def run(self, args):
        rc, out, err = self.module.run_command(
            self.base + args, check_rc=False, environ_update=self.module.params["env"]
        )
        return rc, out, err, parse_json(out)

    def fail(self, rc, out, err, value, **extra):
        result = dict(extra)
        if value:
            for key in ("output", "backup", "restored", "reapplied"):
                if key in value:
                    result[key] = value[key]
            # "failed" is Ansible's own key in a result.
            if "failed" in value:
                result["failed_command"] = value["failed"]
        self.module.fail_json(
            msg=edgeprep_message(rc, out, err, value),
            exit_code=rc,
            stdout=out,
            stderr=err,
            **result
        )


def plan_diff(plan):
    """The plan's files as Ansible diffs: edgeprep's unified diff as it is ("prepared"), since
    edgeprep masked its secrets; a file shown without contents (a key) gets a header only."""
    diffs = []
    for file in plan.get("files", []):
        header = "%s (%s): %s" % (file.get("path"), file.get("action"), file.get("reason", ""))
        body = file.get("diff")
        if body is None:
            body = "(contents not shown)\n"
        diffs.append({"prepared": "%s\n%s" % (header, body)})
    commands = plan.get("commands", [])
    if commands:
        lines = ["Commands, in order:"]
        lines += ["  %d. %s" % (i + 1, c.get("command")) for i, c in enumerate(commands)]
        diffs.append({"prepared": "\n".join(lines) + "\n"})
    return diffs


def warn_all(module, warnings):
    for warning in warnings or []:
        module.warn(warning)


def run_plan(module, runner):
    rc, out, err, plan = runner.run(["plan", "--answers", module.params["answers"], "--json"])
    if rc != 0 or plan is None:
        runner.fail(rc, out, err, plan)
    return plan


def apply(module, runner):
    if module.params["answers"] is None:
        module.fail_json(msg="answers is required with command=apply")
    if module.check_mode:
        plan = run_plan(module, runner)
        if plan.get("interrupted"):
            module.warn("an interrupted apply is pending on the device; a real run finishes it first")
        # Always set, so a play can test it: check mode backs nothing up.
        result = dict(
            changed=bool(plan.get("changed")),
            exit_code=0,
            plan=plan,
            ansible_facts=dict(edgeprep_backup_id=None),
        )
        if module._diff:
            result["diff"] = plan_diff(plan)
        warn_all(module, plan.get("notes"))
        module.exit_json(**result)

    # With --diff the diff is of the plan made just before the apply: the same device state,
    # since edgeprep's lock is not held between the two.
    diff = plan_diff(run_plan(module, runner)) if module._diff else None
    rc, out, err, report = runner.run(["apply", "--answers", module.params["answers"], "--yes", "--json"])
    if rc != 0 or report is None or "error" in report:
        runner.fail(rc, out, err, report)
    warn_all(module, report.get("warnings"))
    result = dict(
        changed=bool(report.get("changed")),
        exit_code=rc,
        backup=report.get("backup"),
        files=report.get("files", []),
        commands=report.get("commands", []),
        ansible_facts=dict(edgeprep_backup_id=report.get("backup")),
    )
    if report.get("recovered"):
        result["recovered"] = report["recovered"]
        result["changed"] = True
    if diff is not None and result["changed"]:
        result["diff"] = diff
    module.exit_json(**result)


def rollback(module, runner):
    wanted = module.params["backup_id"]
    if module.check_mode:
        rc, out, err, listing = runner.run(["rollback", "--list", "--json"])
        if rc != 0 or listing is None:
            runner.fail(rc, out, err, listing)
        sets = listing.get("sets", [])
        if wanted:
            match = [s for s in sets if s.get("id") == wanted]
            if not match:
                module.fail_json(msg="edgeprep: no backup set %s on the device" % wanted)
            changed = True
        else:
            changed = any(
                s.get("action") == "apply" and not s.get("rolled_back_by") and not s.get("damaged")
                and s.get("status") in ("completed", "interrupted")
                for s in sets
            )
        module.exit_json(changed=changed, exit_code=0, sets=sets)

    args = ["rollback", "--yes", "--json"]
    if wanted:
        args += ["--", wanted]
    rc, out, err, report = runner.run(args)
    if report is None or rc not in (0, 1):
        runner.fail(rc, out, err, report)
    warn_all(module, report.get("warnings"))
    result = dict(
        changed=True,
        exit_code=rc,
        restored_from=report.get("restored_from"),
        backup=report.get("backup"),
        files=report.get("files", []),
        commands=report.get("commands", []),
        ansible_facts=dict(edgeprep_rollback_backup_id=report.get("backup")),
    )
    if rc != 0:
        # The files are restored; a command that makes a service read them failed.
        module.fail_json(
            msg="edgeprep: the files of %s were restored but these commands failed: %s"
            % (report.get("restored_from"), ", ".join(report.get("failed", []))),
            **result
        )
    module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", default="/usr/local/bin/edgeprep"),
            command=dict(type="str", choices=["apply", "rollback"], default="apply"),
            answers=dict(type="path"),
            backup_id=dict(type="str"),
            root=dict(type="path", default="/"),
            extra_args=dict(type="list", elements="str", default=[]),
            env=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    if not os.access(module.params["binary"], os.X_OK):
        if module.check_mode:
            # The install step does not run in check mode: the plan cannot be made yet.
            module.warn("%s is not installed yet, so the plan cannot be shown" % module.params["binary"])
            # Without edgeprep there is nothing to roll back, and everything to apply.
            applying = module.params["command"] == "apply"
            module.exit_json(changed=applying, exit_code=None, ansible_facts=dict(edgeprep_backup_id=None))
        module.fail_json(msg="edgeprep is not installed at %s (see edgeprep_install)" % module.params["binary"])
    runner = Runner(module)
    if module.params["command"] == "apply":
        apply(module, runner)
    else:
        rollback(module, runner)


if __name__ == "__main__":
    main()
