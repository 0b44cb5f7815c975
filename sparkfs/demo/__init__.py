"""The demo: generated fraud data (:mod:`.generate`, :mod:`.tables`) and the end-to-end run
behind ``sparkfs demo run`` (:mod:`.pipeline`). Nothing outside ``sparkfs.demo`` and the CLI's
demo command imports it."""
