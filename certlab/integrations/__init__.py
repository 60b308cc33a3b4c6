"""Using certificates for real: mutual-TLS callouts, SAML and JWT signing, endpoint discovery.

These modules are pure: they take certificates and in-memory private keys and talk to peers. The
Inventory (certlab/inventory/integrations.py) resolves named credentials, decrypts keys in memory only
and audits every use.
"""
