//! Microsoft Graph client: tokens, typed calls, paging, delta, $batch, retries and rate limiting.
