"""The demo hub's own settings: three profiles, one only for the ``researchers`` group."""

DEMO_SETTINGS = {
    "profiles": [
        {
            "display_name": "Python",
            "slug": "python",
            "description": "JupyterLab with Python, for everyone.",
            "default": True,
            "kubespawner_override": {
                "image": "quay.io/jupyter/scipy-notebook:2025-01-06",
                "cpu_limit": 1,
                "mem_limit": "1G",
            },
        },
        {
            "display_name": "Classic notebook",
            "slug": "classic",
            "description": "The classic notebook interface, for those who prefer it.",
            "kubespawner_override": {
                "image": "quay.io/jupyter/base-notebook:2025-01-06",
                "cpu_limit": 0.5,
                "mem_limit": "512M",
                "default_url": "/tree",
            },
        },
        {
            "display_name": "Research environment",
            "slug": "research",
            "description": "More memory and a choice of interface, for the researchers group.",
            "allowed_groups": ["researchers"],
            "kubespawner_override": {
                "image": "quay.io/jupyter/datascience-notebook:2025-01-06",
                "cpu_guarantee": 1,
                "cpu_limit": 2,
                "mem_guarantee": "1G",
                "mem_limit": "4G",
                "environment": {"RESEARCH_ENVIRONMENT": "1"},
            },
            "profile_options": {
                "interface": {
                    "display_name": "Interface",
                    "choices": {
                        "lab": {
                            "display_name": "JupyterLab",
                            "default": True,
                            "kubespawner_override": {"default_url": "/lab"},
                        },
                        "classic": {
                            "display_name": "Classic notebook",
                            "kubespawner_override": {"default_url": "/tree"},
                        },
                    },
                    "unlisted_choice": {
                        "enabled": True,
                        "display_name": "Or open this path",
                        "display_name_in_choices": "A path of my own...",
                        "validation_regex": r"/(lab|tree)(/[A-Za-z0-9._\-]+)*",
                        "validation_message": "a path starting with /lab or /tree, "
                        "e.g. /lab/tree/notes",
                        "kubespawner_override": {"default_url": "{value}"},
                    },
                }
            },
        },
    ],
    "announcement": {
        "text": (
            "Welcome to the **jhub-managed** demo hub: profiles by group, hub settings "
            "and usage, all running on your own machine."
        ),
        "level": "info",
        "show_on": ["login", "home"],
    },
    "branding": {
        "organization_name": "jhub-managed demo",
        "funded_by": "nobody: this hub runs on your own machine",
        "contact": "the person who started this demo",
    },
}
