"""Pure conversion between the settings pages' form fields and the settings document, one
module per section: ``profiles``, ``announcement``, ``branding``; ``fields`` holds what they
share. No I/O and no tornado: the pages in ``services/config/pages/`` call these."""
