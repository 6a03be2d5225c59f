import json, pytest
from tests.test_pod_manifest import _spawner, _manifest_for, settings_db_url  # noqa
@pytest.mark.kube
async def test_peek(kube_emulator, settings_db_url):
    s = await _spawner(kube_emulator, settings_db_url, "Ünïcode.user@example.org", ["physics"])
    m = await _manifest_for(s, {"profile": "physics_lab-2"})
    print(json.dumps(m, indent=1, ensure_ascii=False))
