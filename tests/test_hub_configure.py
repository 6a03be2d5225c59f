"""configure(c, ...): what it wires into a hub, and the clear errors for wrong options."""

from __future__ import annotations

import re
import sys
import threading
from contextlib import contextmanager

import pytest
from jinja2 import Environment
from sqlalchemy import inspect
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from jhub_managed.hub import SETTINGS_SCOPE, ConfigureError, ManagedHub, configure
from jhub_managed.hubside.ports import ephemeral_low


def test_wires_spawner_authenticator_services_roles_templates(tmp_path):
    c = Config()
    c.JupyterHub.services = [{"name": "existing", "api_token": "x" * 32}]
    c.JupyterHub.load_roles = [{"name": "user", "scopes": ["self", "read:hub"]}]
    configure(
        c,
        hub_name="physics",
        spawner="local",
        authenticator="demo",
        data_dir=str(tmp_path),
        settings_editor_groups=["course-staff"],
        service_ports={"config": 10101},
    )
    assert c.JupyterHub.spawner_class == "jhub_managed.spawner.ManagedLocalSpawner"
    assert c.JupyterHub.authenticator_class.endswith("ManagedDemoAuthenticator")
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert set(services) == {"existing", "config", "usage", "health", "idle-culler"}
    assert "--timeout=3600" in services["idle-culler"]["command"]
    assert services["config"]["url"] == "http://127.0.0.1:10101"
    assert services["config"]["command"][1:3] == ["-m", "jhub_managed.services.config"]
    assert services["config"]["oauth_client_allowed_scopes"] == [SETTINGS_SCOPE]
    assert ManagedHub.from_environment(services["health"]["environment"]).db_url.startswith(
        "sqlite:///"
    )
    assert SETTINGS_SCOPE in c.JupyterHub.custom_scopes

    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    # the user role keeps what the hub had and gains the pages of the services
    assert {"self", "read:hub", "access:services!service=usage"} <= set(roles["user"]["scopes"])
    assert roles["jhub-managed-settings-editors"]["groups"] == ["course-staff"]
    # each service gets only what it needs; none can administer users
    for name in ("config", "usage", "health"):
        scopes = roles[f"jhub-managed-{name}-service"]["scopes"]
        assert roles[f"jhub-managed-{name}-service"]["services"] == [name]
        # (the health service may start and stop its check user's server, nobody else's)
        unfiltered = [s for s in scopes if not s.endswith("!user=jhub-managed-health-check")]
        assert not any(s.startswith(("admin", "tokens", "servers")) for s in unfiltered)
    assert c.ManagedLocalSpawner.managed_hub.hub_name == "physics"
    assert c.JupyterHub.template_paths[0].endswith("templates/hub")
    assert callable(c.JupyterHub.template_vars["announcement_login"])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"hubname": "x"}, "unknown option 'hubname'"),
        ({"hub_name": "Physics Dept"}, "hub_name 'Physics Dept' must be"),
        ({"spawner": "docker"}, "spawner 'docker' is not one of kube, local"),
        ({"authenticator": "ldap"}, "authenticator 'ldap' is not one of"),
        ({"services": ["config", "billing"]}, "unknown service 'billing'"),
        ({"ceilings": {"cpu": 2}}, "unknown ceiling 'cpu'"),
        ({"ceilings": {"mem_limit": "lots"}}, "not a memory quantity"),
        ({"ceilings": {"image_patterns": ["(unclosed"]}}, "ceilings:"),
        ({"service_ports": {"config": "http"}}, "configure():"),
        (
            {"hub_values": {"profiles": [{"display_name": "A", "slug": "a"}, {"slug": "b"}]}},
            "hub_values is not a valid settings document: /profiles/1: 'display_name' is a "
            "required property",
        ),
        (
            {
                "hub_values": {
                    "profiles": [
                        {
                            "display_name": "Big",
                            "slug": "big",
                            "kubespawner_override": {"cpu_limit": 64},
                        }
                    ]
                },
                "ceilings": {"cpu_limit": 8},
            },
            "above the operator's ceiling of 8 CPUs",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_wrong_options_are_clear_errors(tmp_path, options, message):
    c = Config()
    with pytest.raises(ConfigureError, match=None) as info:
        configure(c, data_dir=str(tmp_path), **options)
    assert message in str(info.value)
    # nothing was wired in
    assert "services" not in c.JupyterHub


def test_services_and_roles_added_with_append_are_kept(tmp_path):
    # as zero-to-jupyterhub's jupyterhub_config.py adds hub.services and hub.loadRoles,
    # before configure() runs in the chart's jupyterhub_config.d file
    c = Config()
    c.JupyterHub.services.append({"name": "fleet-operator", "api_token": "x" * 32})
    c.JupyterHub.load_roles.append(
        {"name": "fleet-operator", "scopes": ["list:users"], "services": ["fleet-operator"]}
    )
    c.JupyterHub.template_vars.update({"site": "physics"})
    configure(c, data_dir=str(tmp_path), announcement_in_templates=True)
    names = [s["name"] for s in c.JupyterHub.services]
    assert names[0] == "fleet-operator" and {"config", "usage", "health"} <= set(names)
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["fleet-operator"]["scopes"] == ["list:users"]
    assert "user" in roles
    assert c.JupyterHub.template_vars["site"] == "physics"


def test_service_name_clash_is_refused(tmp_path):
    c = Config()
    c.JupyterHub.services = [{"name": "health", "url": "http://127.0.0.1:9999"}]
    with pytest.raises(ConfigureError, match="a service named 'health' is already configured"):
        configure(c, data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"home_storage": {"size": "10Gi"}}, "home_storage: unknown key 'size'"),
        ({"home_storage": {"mount_path": "/home"}}, "home_storage needs 'capacity'"),
        ({"shared_storage": {"mount_path": "/srv"}}, "shared_storage needs 'pvc'"),
        ({"idle_timeout": -1}, "idle_timeout cannot be negative"),
    ],
)
def test_wrong_storage_and_culling_options(tmp_path, options, message):
    with pytest.raises(ConfigureError) as info:
        configure(Config(), data_dir=str(tmp_path), **options)
    assert message in str(info.value)


def test_storage_options_set_kubespawner_storage(tmp_path):
    c = Config()
    configure(
        c,
        data_dir=str(tmp_path),
        home_storage={"capacity": "5Gi"},
        shared_storage={"pvc": "shared"},
    )
    assert c.KubeSpawner.storage_pvc_ensure is True
    assert c.KubeSpawner.storage_capacity == "5Gi"
    assert "storage_class" not in c.KubeSpawner
    assert c.ManagedKubeSpawner.managed_hub.shared_storage == {"pvc": "shared"}


# -- a profile_list already in the config (z2jh's singleuser.profileList) --------------------

Z2JH_PROFILES = [
    {
        "display_name": "Default",
        "kubespawner_override": {"image": "quay.io/jupyter/minimal-notebook:2025-01-06"},
    },
    {
        "display_name": "Big machine",
        "kubespawner_override": {
            "mem_limit": "2G",
            "environment": {"FROM_PROFILE": "yes", "DROPPED": None},
            "tolerations": [{"key": "big", "operator": "Exists", "effect": "NoSchedule"}],
        },
    },
]


def _service_config(c) -> ManagedHub:
    """The options as the settings service reads them from its environment."""
    services = {s["name"]: s for s in c.JupyterHub.services}
    return ManagedHub.from_environment(services["config"]["environment"])


@pytest.mark.parametrize("section", ["KubeSpawner", "ManagedKubeSpawner"])
def test_a_config_profile_list_is_the_hubs_starting_profiles_everywhere(tmp_path, section):
    c = Config()
    c[section].profile_list = Z2JH_PROFILES
    hub = configure(c, spawner="kube", data_dir=str(tmp_path))
    profiles = hub.hub_values["profiles"]
    # filled in as KubeSpawner fills it in: slugs from names, the first one the default
    assert [p["slug"] for p in profiles] == ["default", "big-machine"]
    assert profiles[0]["default"] is True
    # the settings service shows what users are offered, operator-only keys included
    assert _service_config(c).hub_values["profiles"] == profiles
    assert c.ManagedKubeSpawner.managed_hub.hub_values["profiles"] == profiles
    assert Z2JH_PROFILES[1].get("slug") is None  # the config's own value is not changed


def test_a_hub_admin_may_keep_the_config_profiles_operator_only_keys(tmp_path):
    from jhub_managed.settings import Ceilings, document_errors
    from jhub_managed.settings.allowlist import AdminAllowList, admin_override_errors

    c = Config()
    c.KubeSpawner.profile_list = Z2JH_PROFILES
    hub = configure(c, spawner="kube", data_dir=str(tmp_path))
    base = {"profiles": hub.hub_values["profiles"]}
    kept = {"profiles": list(reversed(base["profiles"]))}  # reordered, nothing added
    assert document_errors(kept, Ceilings()) == []
    assert admin_override_errors(kept, base, AdminAllowList(), Ceilings()) == []
    # changing an operator-only key is the operator's to do
    changed = {"profiles": [dict(p) for p in base["profiles"]]}
    changed["profiles"][1] = {
        **changed["profiles"][1],
        "kubespawner_override": {**changed["profiles"][1]["kubespawner_override"]},
    }
    changed["profiles"][1]["kubespawner_override"]["tolerations"] = []
    errors = admin_override_errors(changed, base, AdminAllowList(), Ceilings())
    assert errors and "tolerations" in errors[0].message


def test_hub_values_profiles_win_over_a_config_profile_list(tmp_path):
    c = Config()
    c.KubeSpawner.profile_list = Z2JH_PROFILES
    own = [{"display_name": "Ours", "slug": "ours", "kubespawner_override": {}}]
    hub = configure(c, spawner="kube", data_dir=str(tmp_path), hub_values={"profiles": own})
    assert hub.hub_values["profiles"] == own


def test_a_callable_config_profile_list_is_left_to_the_spawner(tmp_path):
    c = Config()
    c.KubeSpawner.profile_list = lambda spawner: Z2JH_PROFILES
    hub = configure(c, spawner="kube", data_dir=str(tmp_path))
    assert "profiles" not in hub.hub_values
    assert "profiles" not in _service_config(c).hub_values


@pytest.mark.parametrize(
    "profile_list, message",
    [
        (
            [{"display_name": "A", "slug": "a"}, {"display_name": "B", "slug": "a"}],
            "c.KubeSpawner.profile_list: ",
        ),
        (
            [{"display_name": "A", "profile_options": {"o": {"display_name": "O"}}}],
            "not a valid settings layer: /profiles/0/profile_options/o: an option needs at "
            "least one choice",
        ),
        (
            [{"display_name": "A", "kubespawner_override": {"cpu_limit": None}}],
            "null means no CPU limit, which is above the operator's ceiling of 2 CPUs",
        ),
        ([{"slug": "nameless"}], "'display_name' is a required property"),
        ([{"description": "no name, no slug"}], "not a profile list ('display_name')"),
        ("a text", "not a profile list"),
        ([{"display_name": "Huge", "kubespawner_override": {"mem_limit": "64G"}}], "mem_limit"),
    ],
)
def test_a_wrong_config_profile_list_is_an_error_at_hub_start(tmp_path, profile_list, message):
    c = Config()
    c.KubeSpawner.profile_list = profile_list
    with pytest.raises(ConfigureError, match=re.escape(message)):
        configure(
            c, spawner="kube", data_dir=str(tmp_path), ceilings={"mem_limit": "8G", "cpu_limit": 2}
        )


def test_a_config_profile_list_made_with_append_is_adopted(tmp_path):
    c = Config()
    c.KubeSpawner.profile_list.append(Z2JH_PROFILES[0])
    hub = configure(c, spawner="kube", data_dir=str(tmp_path))
    assert [p["slug"] for p in hub.hub_values["profiles"]] == ["default"]


# -- configure() builds configuration only ----------------------------------------------------

#: what loading a configuration must not do: open a socket or a database
SIDE_EFFECTS = ("socket.__new__", "socket.bind", "socket.connect", "sqlite3.connect")
_audited: list[list[str]] = []


def _audit(event: str, args: tuple) -> None:
    if _audited and event in SIDE_EFFECTS:
        _audited[-1].append(event)


@contextmanager
def side_effects():
    """What the block does to the world: sockets and database connections it opens, threads
    it leaves running."""
    if not getattr(_audit, "installed", False):
        sys.addaudithook(_audit)  # audit hooks stay for the process: this one only records
        _audit.installed = True
    threads = set(threading.enumerate())
    events: list[str] = []
    _audited.append(events)
    try:
        yield events
    finally:
        _audited.remove(events)
        events += [f"thread {t.name}" for t in set(threading.enumerate()) - threads]


HUB_CONFIG = """
from jhub_managed.hub import configure
configure(c, spawner="local", authenticator="demo", data_dir={data_dir!r})
"""


def test_configure_twice_and_a_config_file_loaded_twice_touch_nothing(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config_file = tmp_path / "jupyterhub_config.py"
    config_file.write_text(HUB_CONFIG.format(data_dir=str(data_dir)))
    with side_effects() as done:
        hubs = [configure(Config(), spawner="local", data_dir=str(data_dir)) for _ in range(2)]
        loaded = [PyFileConfigLoader(config_file.name, str(tmp_path)).load_config() for _ in "12"]
    assert done == []  # no socket, no database, no thread
    assert list(data_dir.iterdir()) == []  # no store made, none migrated
    assert hubs[0] is not hubs[1]
    for c in loaded:
        # the same wiring each time, each with its own objects
        services = [s for s in c.JupyterHub.services if "url" in s]
        ports = [int(s["url"].rsplit(":", 1)[1]) for s in services]
        assert len(set(ports)) == len(ports) == 3
        assert all(port < ephemeral_low() for port in ports)
    snapshots = [c.ManagedLocalSpawner.settings_snapshot for c in loaded]
    assert snapshots[0] is not snapshots[1]


def test_the_hub_start_makes_and_migrates_the_store_and_starts_the_refresher(tmp_path):
    c = Config()
    configure(c, spawner="local", data_dir=str(tmp_path), services=[], idle_timeout=0)
    snapshot = c.ManagedLocalSpawner.settings_snapshot
    assert not (tmp_path / "jhub-managed.sqlite").exists()
    try:
        with side_effects() as done:
            # what JupyterHub does while it starts: build its template environments with
            # the configured options (twice: async and sync)
            for _ in range(2):
                Environment(autoescape=True, **c.JupyterHub.jinja_environment_options)
        assert (tmp_path / "jhub-managed.sqlite").exists()
        assert "jhm_settings_versions" in inspect(snapshot.source.store.engine).get_table_names()
        assert "sqlite3.connect" in done
        assert [e for e in done if e.startswith("thread")] == ["thread jhub-managed-settings"]
    finally:
        snapshot.close()


def test_the_hub_start_keeps_the_configs_own_template_extensions(tmp_path):
    c = Config()
    c.JupyterHub.jinja_environment_options = {"extensions": ["jinja2.ext.loopcontrols"]}
    configure(c, spawner="local", data_dir=str(tmp_path), services=[], idle_timeout=0)
    snapshot = c.ManagedLocalSpawner.settings_snapshot
    try:
        env = Environment(autoescape=True, **c.JupyterHub.jinja_environment_options)
        assert "jinja2.ext.LoopControlExtension" in env.extensions
        assert (tmp_path / "jhub-managed.sqlite").exists()
    finally:
        snapshot.close()
