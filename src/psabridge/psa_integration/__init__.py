"""The PSA Integration screen's logic (rows per tab, Autotask search for links, preview-then-push), kept
apart from the web router so it can be tested and reused without HTTP. It sits on top of
:mod:`psabridge.sync.service` and never changes what the engine decides."""
