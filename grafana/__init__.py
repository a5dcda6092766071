"""Grafana dashboards as code for the Parichay & e-Office monitoring bundle.

`grafana.common` holds every shared default (uids, tags, refresh, timezone, datasource
and template variables, links, panel helpers); `grafana.dashboards_src` has one builder
module per dashboard; `python -m grafana.build` (`make dashboards`) writes the generated
`grafana/dashboards/*.json`, which is committed and checked for drift by the tests.
"""
