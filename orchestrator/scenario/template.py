"""The commented example that ``bgassets scenario new`` writes."""

from __future__ import annotations

TEMPLATE = """\
{modeline}
# A scenario: a timeline of device life, played by `bgassets scenario run` on a
# virtual clock. Real bytes move over loopback from the bundled development server;
# time jumps ahead whenever nothing transfers, so days take seconds.
apiVersion: bgassets/v1
kind: Scenario
metadata:
  name: {name}
  description: A first install on a metered network, then a week of daily use.
spec:
  # The App manifest, relative to this file (a list of them for several apps).
  app: {app}
  # The device at the start: a Device manifest, or its fields written here.
  device:
    network: {{online: true, metered: true}}
  # The development server serves the app's own content on the port its manifestURL
  # names; it may be throttled and made to misbehave.
  server:
    ratePerConnection: 64MiB
    faults: ["503:0.2"]        # a fifth of the requests get 503 with Retry-After: 1
  steps:
    # `at` is the time from the start: 90s, 5m, 2h, 3d.
    - {{at: 0s, install: {{}}}}
    - {{at: 0s, wait: essential}}
    - at: 0s
      expect: {{launchable: true}}
    # A step may repeat: a launch every morning for a week.
    - {{at: 1h, every: 1d, until: 6d, launch: {{}}}}
    - {{at: 2h, every: 1d, until: 6d, terminate: {{}}}}
    # Off the metered network: background downloads may go on.
    - {{at: 1d, device: {{network: {{metered: false}}}}}}
    - {{at: 1d, server: {{faults: []}}}}
    - {{at: 1d, wait: all}}
    - at: 7d
      expect:
        waiting: 0
        failed: 0
        periodicRuns: {{atLeast: 1}}
        events: [app.installed, app.launchable, app.launched]
"""


def scenario_text(modeline: str, name: str, app: str) -> str:
    """The example, for the app at ``app`` (relative to the scenario)."""
    return TEMPLATE.format(modeline=modeline, name=name, app=app)
