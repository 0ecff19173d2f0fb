from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """The demo seeding commands (`demo_setup`, `demo_agents`) and the demo address book."""

    name = "devtools"
    label = "devtools"
