//! `cairn grep STORE PATTERN [PREFIX]`: every matching line of the store's
//! files, following the search's pages to the end.

use cairn_client::{SearchPage, SearchQuery};

use crate::cli::GrepArgs;
use crate::commands::Context;
use crate::exit::Failure;
use crate::render;

pub async fn grep(context: Context, args: GrepArgs) -> Result<Vec<u8>, Failure> {
    let mut query = SearchQuery {
        q: args.pattern,
        regex: args.regex,
        prefix: args.prefix,
        revision: args.revision,
        limit: args.page_size,
        ..SearchQuery::default()
    };
    let mut all: Option<SearchPage> = None;
    loop {
        let page = context.client.search(&args.store, query.clone()).await?;
        // Every page searches the revision the first one did.
        query.revision = Some(page.revision);
        query.cursor = page.next_cursor.clone();
        match all.as_mut() {
            None => all = Some(page),
            Some(all) => {
                all.matches.extend(page.matches);
                all.files_scanned += page.files_scanned;
                all.bytes_scanned += page.bytes_scanned;
                all.next_cursor = page.next_cursor;
            }
        }
        let found = all.as_ref().map_or(0, |all| all.matches.len() as u64);
        if let Some(max) = args.max_count
            && found >= max
        {
            if let Some(all) = all.as_mut() {
                all.matches
                    .truncate(usize::try_from(max).unwrap_or(usize::MAX));
            }
            break;
        }
        if query.cursor.is_none() {
            break;
        }
    }
    let Some(mut all) = all else {
        return Ok(Vec::new());
    };
    all.next_cursor = None;
    context.show(&all, render::search_page)
}
