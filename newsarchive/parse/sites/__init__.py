"""One module per site: each declares its URLs and page markers, and parses (html, url) to an Article."""
