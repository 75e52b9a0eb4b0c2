"""Serve a throwaway copy of the app with fresh demo data, for looking at pages.

Usage: python tools/dev_server.py --port 5101 [--instance DIR]
The database is built from the models (no migrations) in DIR (default: a temp dir).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=5101)
    parser.add_argument("--instance", default=None)
    args = parser.parse_args()
    instance = args.instance or tempfile.mkdtemp(prefix="rollout-dev-")
    os.environ["ROLLOUT_INSTANCE"] = instance
    os.environ.setdefault("ARGON2_MEMORY_COST", "1024")
    os.environ.setdefault("ARGON2_TIME_COST", "1")
    from rollout import create_app
    from rollout.demo import load_demo
    from rollout.extensions import db

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        load_demo(force=True)
    print(f"serving on http://127.0.0.1:{args.port}/ (instance {instance})", flush=True)
    app.run(host="127.0.0.1", port=args.port, debug=False, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
