"""certlab dashboard: sign-in, then the pages each role may use. Start it with `certlab dashboard`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402  (after the path fix above)

from dashboard import session, state  # noqa: E402

PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title=session.APP_NAME, page_icon=session.APP_ICON, layout="wide",
                   initial_sidebar_state="expanded")
st.logo(str(Path(__file__).resolve().parent / "static" / "logo.svg"), size="large")


def page(file: str, title: str, icon: str, *, default: bool = False, url_path: str | None = None) -> st.Page | None:  # type: ignore[name-defined]
    """A page of the navigation; None when its file is not part of this installation."""
    if not (PAGES / file).exists():
        return None
    return st.Page(str(PAGES / file), title=title, icon=icon, default=default, url_path=url_path)



if not session.db_path().exists():
    st.title("certlab")
    st.error(f"No inventory at {session.db_path()}. Start the dashboard with `certlab dashboard` "
             "(it creates the inventory and the first users), or set $CERTLAB_DB.")
    st.stop()

who = session.actor()
if who is None:
    nav = st.navigation([page("sign_in.py", "Sign in", ":material/login:", default=True)], position="hidden")
elif st.session_state.get(state.MUST_CHANGE_PASSWORD):
    # Its own address, so that once the password is chosen the same rerun opens the Overview.
    nav = st.navigation([page("change_password.py", "Choose a password", ":material/password:", default=True,
                              url_path="choose_password")], position="hidden")
else:
    sections = {
        "Inventory": [
            page("overview.py", "Overview", ":material/dashboard:", default=True),
            page("certificates.py", "Certificates", ":material/workspace_premium:"),
            page("create.py", "Create", ":material/add_circle:"),
            page("timeline.py", "Expiry timeline", ":material/timeline:"),
        ],
        "Integrations": [
            page("credentials.py", "Named credentials", ":material/hub:"),
            page("reminders.py", "Reminders and rotation", ":material/autorenew:"),
        ],
        "Compliance": [
            page("audit.py", "Audit trail", ":material/receipt_long:"),
            page("evidence.py", "Evidence pack", ":material/inventory_2:"),
        ],
        "Account": [
            page("users.py", "Users", ":material/group:"),
            page("change_password.py", "Change password", ":material/password:"),
        ],
    }
    sections = {name: [p for p in pages if p] for name, pages in sections.items()}
    nav = st.navigation({name: pages for name, pages in sections.items() if pages})
    with st.sidebar:
        st.caption(f"Signed in as **{who.name}** · {who.role.value}")
        st.button("Sign out", icon=":material/logout:", key="sign_out", on_click=session.sign_out)

nav.run()
