"""HTTP APIs: the Akismet wire protocol (`akismet`), SpamGuard's JSON API (`json_api`) and their OpenAPI document."""
