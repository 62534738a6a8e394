"""patroni_replicatefrom: the tag goes in and out of Patroni's file byte for byte."""
import yaml

from ansible_collections.pgha.cluster.plugins.modules import patroni_replicatefrom as mod

CONFIG = {"scope": "main", "name": "pg3", "postgresql": {"authentication": {"replication": {"password": "s3cr'et"}}},
          "restapi": {"listen": "10.0.0.13:8008"}}


def site_yml_text(data):
    # What roles/postgresql writes: to_nice_yaml(indent=2, width=1000).
    return yaml.dump(data, Dumper=yaml.SafeDumper, indent=2, allow_unicode=True, default_flow_style=False, width=1000)


def test_the_tag_goes_in_and_out_byte_for_byte():
    text = site_yml_text(CONFIG)
    tagged, changed = mod.with_tag(text, "pg2")
    assert changed and yaml.safe_load(tagged)["tags"] == {"replicatefrom": "pg2"}
    back, changed = mod.with_tag(tagged, "")
    assert changed and back == text
    # Already in the wanted state: no change.
    assert mod.with_tag(text, "") == (text, False)


def test_other_tags_are_kept():
    text = site_yml_text(dict(CONFIG, tags={"nofailover": True}))
    tagged, dummy = mod.with_tag(text, "pg2")
    assert yaml.safe_load(tagged)["tags"] == {"nofailover": True, "replicatefrom": "pg2"}
    assert mod.with_tag(tagged, "")[0] == text


def test_a_file_site_yml_did_not_write_is_left_alone():
    text = site_yml_text(CONFIG) + "# edited by hand\n"
    assert mod.with_tag(text, "pg2") == (None, False)
