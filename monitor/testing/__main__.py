"""``python -m monitor.testing``: serve the fake OpenAI endpoint in the foreground."""

from monitor.testing.fake_openai import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
