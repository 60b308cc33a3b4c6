"""Expiry timeline: every certificate's validity on a time axis, the 30/60/90-day bands, the renewal load."""

import streamlit as st

from certlab.inventory.reports import INVENTORY_CSV_COLUMNS
from dashboard import charts, filters, session

inv = session.inventory()
st.title("Expiry timeline")
session.role_note("filters here are shared with the Certificates page.", "filters here are shared with the Certificates page.")
f = filters.widgets(inv.filter_options(), key="tl")
now = inv.now()
page = inv.certificate_page(f.cert_filter(), expiry=f.expiry(), page_size=charts.MAX_BARS)
if page.total == 0:
    st.info("No certificate matches these filters. Clear a filter above, or create one on **Create**.")
    st.stop()

if page.total <= charts.MAX_BARS:
    frame = charts.timeline_frame(page.records)
    chart = charts.timeline_chart(frame, now)
    st.caption(f"{len(frame)} certificates with a validity period (pending CSRs have none yet). "
               "Bands: expiring within 30, 60 and 90 days. Hover a bar for issuer and integrations.")
else:
    bins = charts.bins_frame(inv.expiry_bins("week", f.cert_filter(), expiry=f.expiry()))
    chart = charts.expiry_points_chart(bins, now)
    st.caption(f"{page.total:,} certificates: expiries shown per week (point size = how many). "
               "Narrow the filters to see one bar per certificate.")
st.altair_chart(chart, width="stretch")

st.subheader("Renewal load")
period = st.segmented_control("Per", ["week", "month"], default="month", key="tl_period") or "month"
load = charts.renewal_load_chart(charts.bins_frame(inv.expiry_bins(period, f.cert_filter(), expiry=f.expiry())), period)
st.altair_chart(load, width="stretch")

st.subheader("Download")
c = st.columns(3)
c[0].download_button("Timeline as PNG", data=lambda: charts.to_png(chart), file_name="certlab-expiry-timeline.png",
                     mime="image/png", icon=":material/image:", on_click="ignore")
c[1].download_button("Timeline as SVG", data=lambda: charts.to_svg(chart), file_name="certlab-expiry-timeline.svg",
                     mime="image/svg+xml", icon=":material/draw:", on_click="ignore")
c[2].download_button("Rows as CSV", data=lambda: inv.inventory_csv(f.cert_filter(), expiry=f.expiry()),
                     file_name="certlab-expiry-timeline.csv", mime="text/csv", icon=":material/table:",
                     on_click="ignore", help=f"Columns: {', '.join(INVENTORY_CSV_COLUMNS[:6])}, ...")
