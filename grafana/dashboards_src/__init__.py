"""One module per dashboard, each with `build() -> Dashboard`; `grafana.build` lists them."""
