"""certlab's Streamlit dashboard: thin pages over the Inventory; helpers in plain, tested modules."""
