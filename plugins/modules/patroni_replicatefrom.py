#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pgha maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: patroni_replicatefrom
short_description: Make a Patroni standby stream from another member for a while (its replicatefrom tag)
version_added: 0.1.0
description:
  - Runs on an asynchronous standby before a switchover through Patroni. With I(source) set, writes Patroni's
    C(replicatefrom) tag into its configuration file, reloads Patroni and waits until this node's WAL receiver
    streams from I(source_address) - the switchover target, which then holds a slot for it. Once the target is
    promoted this standby already streams from it, so the new primary's synchronous replication is met at once
    instead of after the standbys' next Patroni loops.
  - With I(source) empty, removes the tag again and reloads Patroni, which then follows the leader.
  - The file is rewritten only when it reads back exactly as site.yml writes it (otherwise nothing is changed and
    C(applied) is false), so that removing the tag restores it byte for byte. When the node does not stream from
    I(source_address) within I(timeout) seconds the tag is removed again (C(applied) false, with a warning).
extends_documentation_fragment:
  - pgha.cluster.node
  - pgha.cluster.attributes
options:
  source:
    description: Member to stream from; empty removes the tag.
    type: str
    default: ''
  source_address:
    description: Its address (what this node's WAL receiver must connect to). Required with I(source).
    type: str
  config:
    description: Patroni's configuration file.
    type: path
    default: /etc/patroni/config.yml
  timeout:
    description: Seconds to wait for this node to stream from I(source_address).
    type: int
    default: 15
author:
  - pgha maintainers (@pgha)
'''

EXAMPLES = r'''
- name: Stream from the switchover target until it is promoted
  pgha.cluster.patroni_replicatefrom:
    version: 15
    source: pg2
    source_address: 10.0.0.12

- name: Follow the leader again
  pgha.cluster.patroni_replicatefrom:
    version: 15
'''

RETURN = r'''
applied:
  description: The tag is in place and this node streams from I(source_address) (with I(source)), or the tag is gone.
  returned: always
  type: bool
seconds:
  description: Seconds until this node streamed from I(source_address).
  returned: when the tag was set
  type: float
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pgha.cluster.plugins.module_utils.files import write_atomic
from ansible_collections.pgha.cluster.plugins.module_utils.pg import node_argument_spec, pg_paths, run_psql

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    HAS_YAML = False


def render(data):
    """The configuration as site.yml writes it (to_nice_yaml, indent 2, width 1000)."""
    return yaml.dump(data, Dumper=yaml.SafeDumper, indent=2, allow_unicode=True, default_flow_style=False,
                     width=1000)


def with_tag(text, source):
    """(new text, changed) with tags.replicatefrom set to ``source`` (removed when empty); None when the file
    does not read back exactly as site.yml writes it."""
    data = yaml.safe_load(text) or {}
    if render(data) != text:
        return None, False
    tags = dict(data.get("tags") or {})
    if source:
        tags["replicatefrom"] = source
    else:
        tags.pop("replicatefrom", None)
    if tags:
        data["tags"] = tags
    else:
        data.pop("tags", None)
    new = render(data)
    return new, new != text


def streams_from(module, paths, port, address):
    rc, out, dummy = run_psql(module, paths['bin_dir'], port,
                              "SELECT status || ' ' || coalesce(sender_host, '') FROM pg_catalog.pg_stat_wal_receiver")
    return rc == 0 and out.strip() == "streaming %s" % address


def main():
    module = AnsibleModule(
        argument_spec=node_argument_spec(
            source=dict(type='str', default=''),
            source_address=dict(type='str'),
            config=dict(type='path', default='/etc/patroni/config.yml'),
            timeout=dict(type='int', default=15),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not HAS_YAML:
        module.fail_json(msg="PyYAML is needed on the database node")
    if p['source'] and not p['source_address']:
        module.fail_json(msg="source_address is needed with source")
    with open(p['config']) as handle:
        text = handle.read()
    new, changed = with_tag(text, p['source'])
    if new is None:
        module.warn("%s does not read back as site.yml writes it: left as it is (run site.yml)" % p['config'])
        module.exit_json(changed=False, applied=False)
    if module.check_mode or not changed:
        module.exit_json(changed=changed, applied=not changed)
    write_atomic(p['config'], new)
    module.run_command(["systemctl", "reload", "patroni.service"], check_rc=True)
    if not p['source']:
        module.exit_json(changed=True, applied=True)
    paths = pg_paths(p['version'], p['cluster'], data_dir=p['data_dir'], bin_dir=p['bin_dir'])
    started = time.time()
    while time.time() - started < p['timeout']:
        if streams_from(module, paths, p['port'], p['source_address']):
            module.exit_json(changed=True, applied=True, seconds=round(time.time() - started, 3))
        time.sleep(0.2)
    # Not streaming from the source in time: back to following the leader, the switchover goes on without it.
    write_atomic(p['config'], text)
    module.run_command(["systemctl", "reload", "patroni.service"], check_rc=True)
    module.warn("this node did not stream from %s within %d s: it follows the leader again"
                % (p['source_address'], p['timeout']))
    module.exit_json(changed=True, applied=False)


if __name__ == '__main__':
    main()
