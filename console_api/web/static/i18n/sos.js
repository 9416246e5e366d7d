window.CATALOGUE_SOS = { en: {} };
