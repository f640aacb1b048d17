"""Draftguard server: the Flask app over the engine.

    gunicorn 'server:create_app()'          # production (what `make run` does)
    flask --app server admins add NAME      # admin commands
    create_app({"MODELS_DIR": tmp, ...})    # tests

This package stays light: importing `server.config` or `server.storage` loads no web framework.
The app and its blueprints are imported only when an app is made.
"""


def create_app(test_config=None):
    from server.app import create_app as build

    return build(test_config)
