//! `/directory/deletedItems/microsoft.graph.user` pages with `$top` and a next link and honours
//! `$select`, as Graph documents for listing deleted items.

use crate::common;

#[tokio::test]
async fn deleted_users_are_paged_and_selected() {
    let env = common::start().await;
    let upns: Vec<String> = env
        .sim
        .users()
        .iter()
        .filter(|u| u.roles.is_empty())
        .take(3)
        .map(|u| u.user_principal_name.clone())
        .collect();
    assert_eq!(upns.len(), 3);
    for upn in &upns {
        assert!(env.sim.soft_delete_user(upn));
    }
    let first = env
        .get("/directory/deletedItems/microsoft.graph.user?$top=2&$select=id,userPrincipalName")
        .await;
    assert_eq!(first.status, 200);
    let page = first.body["value"].as_array().unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["@odata.type"], "#microsoft.graph.user");
    assert!(page[0].get("displayName").is_none(), "{}", page[0]);
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    let path = next.split("/v1.0").nth(1).unwrap();
    let second = env.get(path).await;
    let rest = second.body["value"].as_array().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(second.body.get("@odata.nextLink").is_none());
    let mut seen: Vec<&str> = page
        .iter()
        .chain(rest)
        .map(|u| u["userPrincipalName"].as_str().unwrap())
        .collect();
    seen.sort_unstable();
    let mut want: Vec<&str> = upns.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(seen, want);
}
