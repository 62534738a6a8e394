import os

from ansible_collections.pgha.cluster.plugins.module_utils import standby

SHIM = ("# Managed by pgha.cluster.postgresql: the server runs with /etc/postgresql/15/main/postgresql.conf;\n"
        "# this file only serves Patroni's single-user crash recovery (postgres --single -D).\n"
        "include '/etc/postgresql/15/main/postgresql.conf'\n")


class Module(object):
    def __init__(self):
        self.ran = []

    def run_command(self, argv, **kwargs):
        self.ran.append(argv)
        if argv[0] == "pg_createcluster":
            # What pg_createcluster does with an adopted data directory: its postgresql.conf goes to /etc.
            os.rename(os.path.join(DATA[0], "postgresql.conf"), os.path.join(CONF[0], "postgresql.conf"))
        elif "touch" in argv:
            open(argv[-1], "a").close()
        return 0, "", ""

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


DATA, CONF = [None], [None]


def paths(tmp_path):
    DATA[0], CONF[0] = str(tmp_path / "data"), str(tmp_path / "etc")
    os.makedirs(DATA[0])
    os.makedirs(CONF[0])
    return {"data_dir": DATA[0], "conf_dir": CONF[0]}


def test_a_clone_carrying_the_patroni_shim_does_not_make_etc_include_itself(tmp_path):
    where = paths(tmp_path)
    with open(os.path.join(DATA[0], "postgresql.conf"), "w") as handle:
        handle.write(SHIM)
    module, commands = Module(), []
    standby.register(module, {"port": 5432, "version": 15, "cluster": "main"}, where, commands)
    with open(os.path.join(CONF[0], "postgresql.conf")) as handle:
        assert "include" not in handle.read()
    assert ["truncate", "-s", "0", os.path.join(DATA[0], "postgresql.conf")] in commands


def test_any_other_postgresql_conf_in_the_clone_is_left_as_it_is(tmp_path):
    where = paths(tmp_path)
    with open(os.path.join(DATA[0], "postgresql.conf"), "w") as handle:
        handle.write("shared_buffers = '1GB'\n")
    standby.register(Module(), {"port": 5432, "version": 15, "cluster": "main"}, where, [])
    with open(os.path.join(CONF[0], "postgresql.conf")) as handle:
        assert handle.read() == "shared_buffers = '1GB'\n"
    assert not standby.is_patroni_shim(os.path.join(CONF[0], "postgresql.conf"))
    assert not standby.is_patroni_shim(os.path.join(DATA[0], "missing.conf"))
