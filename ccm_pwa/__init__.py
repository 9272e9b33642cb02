"""ccm_pwa: Medicare Chronic Care Management for care managers on phones."""
